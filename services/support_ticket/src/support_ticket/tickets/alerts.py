"""The SLA scheduler: every second, the tickets whose alert instant has come (or whose SLA was
computed with an older configuration) are computed again under their lease, and the warnings
and breaches they owe are announced through their outbox.

All its state is in the tickets (`next_alert_at`, `sla_revision`, `sla_announced`), so it runs
in every replica and picks up after a restart where the last one stopped: replicas looking at
the same ticket at once take turns on its lease, and the second finds the alert announced.
"""

import asyncio
import logging

from crm_events.ticket import TicketStatus
from prometheus_client import Counter

from support_ticket.sla import service as sla
from support_ticket.tickets import repository, service
from support_ticket.tickets.leases import Busy
from support_ticket.tickets.repository import Database

logger = logging.getLogger(__name__)

ANNOUNCED = Counter("support_ticket_sla_alerts_total", "SLA warnings and breaches announced")
OPEN = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)


async def run_due(*, database: Database, batch_size: int, concurrency: int) -> int:
    """Compute again every ticket due now, `batch_size` at a time, `concurrency` at once;
    returns how many alerts were announced."""
    announced = 0
    seen: set[str] = set()
    gate = asyncio.Semaphore(concurrency)

    async def one(ticket_id: str) -> int:
        async with gate:
            try:
                return await service.reevaluate(database=database, ticket_id=ticket_id)
            except Busy:
                return 0  # its writer computes it afresh; the next round looks again

    while True:
        configuration = await sla.configuration(database=database)
        due = await repository.due_for_sla(
            database=database,
            now=service.now(),
            revision=configuration.revision,
            statuses=[status.value for status in OPEN],
            limit=batch_size,
        )
        fresh = [ticket_id for ticket_id in due if ticket_id not in seen]
        seen.update(fresh)
        counts = await asyncio.gather(*(one(ticket_id) for ticket_id in fresh))
        announced += sum(counts)
        ANNOUNCED.inc(sum(counts))
        # A ticket still due after its turn (its lease was busy) waits for the next round.
        if len(due) < batch_size or not fresh:
            return announced
