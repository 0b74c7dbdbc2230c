"""Publishing the events kept in tickets to crm.tickets.v1.

Each change writes its event into the ticket in the same single-document update, so a change is
never stored without its event. The relay publishes every pending event of a ticket in version
order, waits for the broker's acknowledgements, then takes exactly those events out of the
ticket (`$pullAll` by their stored value, so events written meanwhile stay). A crash between
publishing and removing publishes them again: the same event ids and versions, which consumers
absorb by id or by keeping the highest version. Replicas may relay the same ticket at once with
the same effect: a duplicate at worst, never a loss.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_common.outbox import OUTBOX_FAILURES, OUTBOX_PUBLISHED
from crm_common.producer import RecordProducer
from faststream.kafka import KafkaBroker

from support_ticket.tickets import leases, repository
from support_ticket.tickets.models import PendingEvent
from support_ticket.tickets.repository import Database

logger = logging.getLogger(__name__)

_HEADERS = {"content-type": "application/cloudevents+json"}


@dataclass(frozen=True)
class Pending:
    """One ticket's events to publish, and their values as stored (to remove them by)."""

    ticket_id: str
    stored: Sequence[Any]

    def events(self) -> list[PendingEvent]:
        events = [PendingEvent.model_validate(value) for value in self.stored]
        return sorted(events, key=lambda event: event.version)


class TicketRelay:
    def __init__(
        self,
        database: Database,
        broker: KafkaBroker,
        *,
        topic: str,
        batch_size: int,
        poll_interval: float,
    ) -> None:
        self._database = database
        self._producer = RecordProducer(broker)
        self._topic = topic
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ticket-relay")

    async def stop(self, *, flush_seconds: float = 0.0) -> None:
        """Stop relaying, after one last round of at most `flush_seconds`."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay_once(), flush_seconds)

    async def _run(self) -> None:
        while True:
            try:
                relayed = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                OUTBOX_FAILURES.inc()
                logger.exception("ticket relay round failed; retrying")
                relayed = 0
            if relayed < self._batch_size:
                await asyncio.sleep(self._poll_interval)

    async def relay_once(self) -> int:
        """Publish and remove the pending events of one batch of tickets; returns how many
        tickets had some."""
        pending = await self.pending()
        await self.publish(pending)
        await self.remove(pending)
        return len(pending)

    async def pending(self) -> list[Pending]:
        found = await repository.with_pending_events(
            database=self._database, limit=self._batch_size
        )
        return [Pending(ticket_id, stored) for ticket_id, stored in found]

    async def publish(self, pending: Sequence[Pending]) -> None:
        """Send every event, keyed by its ticket, then await every acknowledgement (raising the
        first failure: nothing is removed and the round is tried again)."""
        acks: list[Awaitable[Any]] = []
        for ticket in pending:
            for event in ticket.events():
                acks.append(
                    await self._producer.send(
                        topic=self._topic,
                        key=ticket.ticket_id.encode(),
                        value=event.payload,
                        headers=_HEADERS,
                    )
                )
        for outcome in await asyncio.gather(*acks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        OUTBOX_PUBLISHED.labels(self._topic).inc(len(acks))

    async def remove(self, pending: Sequence[Pending]) -> None:
        for ticket in pending:
            # Under the ticket's lease: on FerretDB a change written meanwhile would be lost.
            async with leases.held(self._database, f"ticket:{ticket.ticket_id}"):
                await repository.remove_pending(
                    database=self._database, ticket_id=ticket.ticket_id, stored=ticket.stored
                )
