"""Following customer-profile's word on who a ticket's requester is: attributions, merges, their
undoing, and erasure.

Each step changes tickets one at a time through `service.change`, so each change carries its
history entry and its event; a step repeated after a crash finds the tickets already changed
and changes nothing.
"""

from datetime import datetime

from crm_events.customer import (
    CustomerErased,
    CustomerMerged,
    CustomerTicketAttributed,
    CustomerUnmerged,
)

from support_ticket import idempotency
from support_ticket.customers import repository as customers
from support_ticket.customers import service as customer_service
from support_ticket.tickets import repository, service
from support_ticket.tickets.exceptions import TicketNotFound
from support_ticket.tickets.models import Requester, Ticket
from support_ticket.tickets.repository import Database

CONSUMER = "support_ticket.tickets"
SYSTEM = "system:customer-profile"
CustomerFollowup = CustomerTicketAttributed | CustomerMerged | CustomerUnmerged | CustomerErased


async def apply(*, database: Database, event_id: str, change: CustomerFollowup) -> None:
    """Apply one crm.customers.v1 event to the tickets it concerns, once."""
    if await idempotency.already_applied(database, consumer=CONSUMER, event_id=event_id):
        return
    match change:
        case CustomerTicketAttributed():
            await attribute(database=database, attributed=change)
        case CustomerMerged():
            await follow_merge(database=database, merged=change)
        case CustomerUnmerged():
            await follow_unmerge(database=database, unmerged=change)
        case CustomerErased():
            await erase(database=database, customer_id=change.customer_id)
    await idempotency.record_applied(database, consumer=CONSUMER, event_id=event_id)


async def _survivor(database: Database, customer_id: str) -> str:
    customer = await customer_service.get_customer(database=database, customer_id=customer_id)
    return customer.customer_id if customer is not None else customer_id


async def attribute(*, database: Database, attributed: CustomerTicketAttributed) -> None:
    """Link the ticket to the customer customer-profile named (or to whom they were merged
    into since)."""
    current = await _survivor(database, attributed.customer_id)

    def link(ticket: Ticket, _: datetime) -> None:
        ticket.attributed_customer_id = attributed.customer_id
        if not ticket.erased:
            ticket.customer_id = current

    try:
        await service.change(
            database=database,
            ticket_id=attributed.ticket_id,
            actor=SYSTEM,
            action="attributed",
            mutate=link,
        )
    except TicketNotFound:
        pass  # an attribution of a ticket this store never had (another environment's)


async def follow_merge(*, database: Database, merged: CustomerMerged) -> None:
    """The merged customer's tickets go to the survivor (or to whom the survivor was merged
    into since)."""
    survivor = await _survivor(database, merged.survivor_id)
    await _repoint(database, merged.merged_id, survivor, action="customer_merged")


async def follow_unmerge(*, database: Database, unmerged: CustomerUnmerged) -> None:
    """The tickets attributed to the merged customer, or to customers merged into it, come
    back to it."""
    own = {unmerged.merged_id} | await customers.merged_into(
        database=database, customer_id=unmerged.merged_id
    )
    tickets = await repository.tickets_of_customers(
        database=database, customer_ids=own, attributed=True
    )
    for ticket in tickets:
        await _set_customer(database, ticket.ticket_id, unmerged.merged_id, "customer_unmerged")


async def _repoint(database: Database, customer_id: str, to: str, *, action: str) -> None:
    tickets = await repository.tickets_of_customers(database=database, customer_ids=[customer_id])
    for ticket in tickets:
        await _set_customer(database, ticket.ticket_id, to, action)


async def _set_customer(database: Database, ticket_id: str, customer_id: str, action: str) -> None:
    def repoint(ticket: Ticket, _: datetime) -> None:
        ticket.customer_id = customer_id

    await service.change(
        database=database, ticket_id=ticket_id, actor=SYSTEM, action=action, mutate=repoint
    )


async def erase(*, database: Database, customer_id: str) -> None:
    """Blank the requester's personal data in the tickets of the customer and of every customer
    merged into it: their contact, the subject they wrote, and their messages."""
    everyone = {customer_id} | await customers.merged_into(
        database=database, customer_id=customer_id
    )
    tickets = {
        ticket.ticket_id: ticket
        for ticket in [
            *await repository.tickets_of_customers(database=database, customer_ids=everyone),
            *await repository.tickets_of_customers(
                database=database, customer_ids=everyone, attributed=True
            ),
        ]
    }

    def blank(ticket: Ticket, _: datetime) -> None:
        ticket.requester = Requester()
        ticket.subject = "(erased)"
        ticket.erased = True

    for ticket_id in sorted(tickets):
        await service.change(
            database=database, ticket_id=ticket_id, actor=SYSTEM, action="erased", mutate=blank
        )
    await repository.erase_customer_messages(database=database, ticket_ids=sorted(tickets))
