"""A ticket's life: opening it with a number, changing it under its version, its statuses,
and its SLA computed again with every change.

Every change is one update of the ticket document that also appends its history entry and the
event announcing it, made under the ticket's write lease (`leases`): two writers never lose
each other's change, the second one reads the first one's. The update is also guarded by the
version read before it, which is all real MongoDB would need.

A change never announces an SLA alert itself: when one is owed it sets `next_alert_at` to now,
and the scheduler (`alerts`) announces it through `reevaluate`, one alert per change.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_events.ticket import TicketChannel, TicketPriority, TicketStatus
from pymongo.errors import DuplicateKeyError

from support_ticket.sla import service as sla
from support_ticket.sla.policies import TicketAttributes
from support_ticket.tickets import fields, leases, repository
from support_ticket.tickets.deadlines import Alert, Deadlines, deadlines
from support_ticket.tickets.events import Reply, alert_event, pending_event
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
# Derived from the rest (the SLA) or bookkeeping: recorded by the changes that cause them.
_UNTRACKED = {
    "version",
    "updated_at",
    "history",
    "outbox",
    "mail_ids",
    "sla",
    "first_response_seconds",
    "resolution_seconds",
    "next_alert_at",
    "sla_revision",
    "sla_announced",
}
SLA_ACTOR = "system:sla"


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
    await _compute_sla(database, ticket, at)
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
    reply: Reply | None = None,
) -> Ticket:
    """Apply `mutate` to the ticket as one versioned write with its history entry and event.

    Nothing is written when it changes nothing. With `message_id`, the change is the one that
    message brings, made once however often it is retried (`reply` when it is a public one).
    With `expected_version`, a ticket at another version is a `VersionConflict` rather than
    read again."""
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
            reply=reply,
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
    reply: Reply | None,
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
    after.history = [*before.history, entry]
    await _compute_sla(database, after, at)
    saved = await repository.save(
        database=database,
        before=before,
        after=after,
        entries=[entry],
        event=pending_event(before, after, reply=reply),
        new_mail_ids=[i for i in new_mail_ids if i not in before.mail_ids],
    )
    if not saved:
        # Only a writer that ignored the lease (or outlived it) gets here.
        current = await repository.get(database=database, ticket_id=ticket_id)
        raise VersionConflict(ticket_id, (current or before).version)
    after.mail_ids = list(dict.fromkeys([*before.mail_ids, *new_mail_ids]))
    return after


def attributes(ticket: Ticket) -> TicketAttributes:
    """What SLA policy conditions look at. crm.customers.v1 carries no value tier yet, so no
    policy's value-tier condition holds."""
    return TicketAttributes(
        priority=ticket.priority.value,
        channel=ticket.channel.value,
        store_id=ticket.store_id,
        tags=frozenset(ticket.tags),
    )


async def _selected(database: Database, ticket: Ticket) -> tuple[sla.Selected | None, int]:
    configuration = await sla.configuration(database=database)
    selected = await sla.select(
        database=database, configuration=configuration, ticket=attributes(ticket)
    )
    return selected, configuration.revision


async def _compute_sla(database: Database, ticket: Ticket, at: datetime) -> Deadlines:
    selected, revision = await _selected(database, ticket)
    found = deadlines(ticket, selected, now=at)
    _keep(ticket, found, revision)
    return found


def _keep(ticket: Ticket, found: Deadlines, revision: int) -> None:
    ticket.sla = found.sla
    ticket.first_response_seconds = found.first_response_seconds
    ticket.resolution_seconds = found.resolution_seconds
    ticket.next_alert_at = found.next_alert_at
    ticket.sla_revision = revision


async def reevaluate(*, database: Database, ticket_id: str) -> int:
    """Bring the ticket's SLA up to date with the time and the configuration, and announce the
    alerts it owes, each once, as a change of its own; returns how many were announced."""
    async with leases.held(database, f"ticket:{ticket_id}"):
        ticket = await repository.get(database=database, ticket_id=ticket_id)
        if ticket is None:
            return 0
        selected, revision = await _selected(database, ticket)
        announced = 0
        while True:
            at = now()
            found = deadlines(ticket, selected, now=at)
            if found.alerts:
                alert = found.alerts[0]
                # Computed as if announced, so that it is stored with the next instant to look.
                keys = [*ticket.sla_announced, alert.key]
                found = deadlines(
                    ticket.model_copy(update={"sla_announced": keys}), selected, now=at
                )
                ticket = await _save_sla(database, ticket, found, revision, at, alert)
                announced += 1
                continue
            if (found.sla, found.first_response_seconds, found.resolution_seconds) != (
                ticket.sla,
                ticket.first_response_seconds,
                ticket.resolution_seconds,
            ):
                # A new policy or calendar moved the targets: consumers learn of it.
                await _save_sla(database, ticket, found, revision, at, None)
            elif (found.next_alert_at, revision) != (ticket.next_alert_at, ticket.sla_revision):
                await repository.set_schedule(
                    database=database,
                    ticket=ticket,
                    next_alert_at=found.next_alert_at,
                    sla_revision=revision,
                )
            return announced


async def _save_sla(
    database: Database,
    ticket: Ticket,
    found: Deadlines,
    revision: int,
    at: datetime,
    alert: Alert | None,
) -> Ticket:
    """The SLA-only change of `ticket`: announcing `alert`, or else new targets."""
    after = ticket.model_copy(deep=True)
    _keep(after, found, revision)
    after.version, after.updated_at = ticket.version + 1, at
    if alert is None:
        entry = HistoryEntry(at=at, actor=SLA_ACTOR, action="sla_recomputed")
        event = pending_event(ticket, after)
    else:
        after.sla_announced = [*ticket.sla_announced, alert.key]
        entry = HistoryEntry(at=at, actor=SLA_ACTOR, action=f"sla_{alert.kind}:{alert.target}")
        event = alert_event(after, alert)
    if not await repository.save(
        database=database, before=ticket, after=after, entries=[entry], event=event
    ):
        raise VersionConflict(ticket.ticket_id, ticket.version)
    after.history = [*ticket.history, entry]
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
