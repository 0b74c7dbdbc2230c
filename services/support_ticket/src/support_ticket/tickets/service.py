"""A ticket's life: opening it with a number, changing it under its version, its statuses.

Every change is one update of the ticket document that also appends its history entry and the
event announcing it, made under the ticket's write lease (`leases`): two writers never lose
each other's change, the second one reads the first one's. The update is also guarded by the
version read before it, which is all real MongoDB would need.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_events.ticket import TicketChannel, TicketPriority, TicketStatus
from pymongo.errors import DuplicateKeyError

from support_ticket.tickets import fields, leases, repository
from support_ticket.tickets.events import pending_event
from support_ticket.tickets.exceptions import InvalidTicket, TicketNotFound, VersionConflict
from support_ticket.tickets.models import HistoryEntry, Requester, Ticket
from support_ticket.tickets.repository import Database

ALLOWED: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset(
        {TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.SOLVED}
    ),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.SOLVED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.ON_HOLD, TicketStatus.SOLVED}),
    TicketStatus.ON_HOLD: frozenset({TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED}),
    TicketStatus.SOLVED: frozenset(
        {TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD, TicketStatus.CLOSED}
    ),
    # Closed is final: the customer writing again opens a follow-up ticket.
    TicketStatus.CLOSED: frozenset(),
}
_UNTRACKED = {"version", "updated_at", "history", "outbox", "mail_ids"}


def now() -> datetime:
    """The time now as the store keeps it (milliseconds), so that events and reads agree."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class NewTicket:
    subject: str
    channel: TicketChannel
    store_id: str | None = None
    requester: Requester = field(default_factory=Requester)
    customer_id: str | None = None
    status: TicketStatus = TicketStatus.NEW
    priority: TicketPriority = TicketPriority.NORMAL
    type: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    assignee_id: str | None = None
    group_id: str | None = None
    followers: list[str] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)


def transition(ticket: Ticket, to: TicketStatus, *, at: datetime) -> None:
    """Move `ticket` to status `to`, or raise `InvalidTicket` when the move is not allowed."""
    if to is ticket.status:
        return
    if to not in ALLOWED[ticket.status]:
        raise InvalidTicket("status", f"a {ticket.status} ticket cannot become {to}")
    if ticket.status is TicketStatus.SOLVED and to is not TicketStatus.CLOSED:
        ticket.reopened_count += 1
    if to is TicketStatus.SOLVED:
        ticket.solved_at = at
    ticket.status = to


async def open_ticket(
    *,
    database: Database,
    ticket_id: str,
    draft: NewTicket,
    actor: str,
    message_id: str | None = None,
    mail_ids: Sequence[str] = (),
) -> Ticket:
    """Open a ticket with the store's next number; created with its first message when
    `message_id` names one stored before. Opening `ticket_id` again returns it as it is."""
    existing = await repository.get(database=database, ticket_id=ticket_id)
    if existing is not None:
        return existing
    definitions = await repository.field_definitions(database=database, store_id=draft.store_id)
    custom = fields.validated(draft.custom_fields, definitions, complete=True)
    if draft.status not in (TicketStatus.NEW, TicketStatus.OPEN):
        raise InvalidTicket("status", "a ticket opens as new or open")
    at = now()
    async with leases.held(database, f"numbers:{draft.store_id or ''}"):
        number = await repository.next_number(database=database, store_id=draft.store_id)
    ticket = Ticket(
        ticket_id=ticket_id,
        number=number,
        store_id=draft.store_id,
        subject=draft.subject,
        channel=draft.channel,
        status=draft.status,
        priority=draft.priority,
        type=draft.type,
        tags=sorted(set(draft.tags)),
        custom_fields=custom,
        requester=draft.requester,
        attributed_customer_id=draft.customer_id,
        customer_id=draft.customer_id,
        assignee_id=draft.assignee_id,
        group_id=draft.group_id,
        followers=sorted(set(draft.followers)),
        participants=sorted(set(draft.participants)),
        order_ids=draft.order_ids,
        mail_ids=list(mail_ids),
        created_at=at,
        updated_at=at,
    )
    ticket.history = [HistoryEntry(at=at, actor=actor, action="created", message_id=message_id)]
    ticket.outbox = [pending_event(None, ticket)]
    try:
        await repository.insert(database=database, ticket=ticket)
    except DuplicateKeyError:
        # Opened meanwhile by a retry of the same request (the number drawn is left unused).
        stored = await repository.get(database=database, ticket_id=ticket_id)
        if stored is None:
            raise
        return stored
    return ticket


Mutation = Callable[[Ticket, datetime], None]
"""Changes a copy of the ticket in place (raising `InvalidTicket` to refuse)."""


async def change(
    *,
    database: Database,
    ticket_id: str,
    actor: str,
    action: str,
    mutate: Mutation,
    expected_version: int | None = None,
    message_id: str | None = None,
    new_mail_ids: Sequence[str] = (),
) -> Ticket:
    """Apply `mutate` to the ticket as one versioned write with its history entry and event.

    Nothing is written when it changes nothing. With `message_id`, the change is the one that
    message brings, made once however often it is retried. With `expected_version`, a ticket at
    another version is a `VersionConflict` rather than read again."""
    async with leases.held(database, f"ticket:{ticket_id}"):
        return await _change(
            database=database,
            ticket_id=ticket_id,
            actor=actor,
            action=action,
            mutate=mutate,
            expected_version=expected_version,
            message_id=message_id,
            new_mail_ids=new_mail_ids,
        )


async def _change(
    *,
    database: Database,
    ticket_id: str,
    actor: str,
    action: str,
    mutate: Mutation,
    expected_version: int | None,
    message_id: str | None,
    new_mail_ids: Sequence[str],
) -> Ticket:
    before = await repository.get(database=database, ticket_id=ticket_id)
    if before is None:
        raise TicketNotFound(ticket_id)
    if expected_version is not None and before.version != expected_version:
        raise VersionConflict(ticket_id, before.version)
    if message_id is not None and any(e.message_id == message_id for e in before.history):
        return before
    at = now()
    after = before.model_copy(deep=True)
    mutate(after, at)
    changes = _diff(before, after)
    if not changes and message_id is None:
        return before
    after.version = before.version + 1
    after.updated_at = at
    entry = HistoryEntry(at=at, actor=actor, action=action, changes=changes, message_id=message_id)
    saved = await repository.save(
        database=database,
        before=before,
        after=after,
        entries=[entry],
        event=pending_event(before, after),
        new_mail_ids=[i for i in new_mail_ids if i not in before.mail_ids],
    )
    if not saved:
        # Only a writer that ignored the lease (or outlived it) gets here.
        current = await repository.get(database=database, ticket_id=ticket_id)
        raise VersionConflict(ticket_id, (current or before).version)
    after.mail_ids = list(dict.fromkeys([*before.mail_ids, *new_mail_ids]))
    return after


def _diff(before: Ticket, after: Ticket) -> dict[str, dict[str, Any]]:
    old = before.model_dump(mode="json", exclude=_UNTRACKED)
    new = after.model_dump(mode="json", exclude=_UNTRACKED)
    return {name: {"old": old[name], "new": new[name]} for name in new if old[name] != new[name]}


async def get_ticket(*, database: Database, ticket_id: str) -> Ticket:
    """The ticket, or `TicketNotFound`."""
    ticket = await repository.get(database=database, ticket_id=ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


async def validated_fields(
    *, database: Database, store_id: str | None, values: dict[str, Any]
) -> dict[str, Any]:
    """A change of custom fields, checked against the store's definitions."""
    definitions = await repository.field_definitions(database=database, store_id=store_id)
    return fields.validated(values, definitions, complete=False)
