from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler, PermanentEventError, Rejections
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.customers.identities import DEFAULT_GUARD, IdentityGuard
from customer_profile.timeline import service

TIMELINE_EVENTS = Counter(
    "crm_timeline_events_total",
    "Events the timeline consumed, by topic and outcome",
    ["topic", "outcome"],
)

Apply = Callable[
    [AsyncSession, Sequence[CloudEvent[dict[str, Any]]], datetime], Awaitable[service.Applied]
]


def _batch_handler(
    sessions: async_sessionmaker[AsyncSession], topic: str, apply: Apply
) -> BatchHandler:
    async def handle(events: Sequence[CloudEvent[dict[str, Any]]]) -> Rejections:
        """Apply a batch of events to the timeline in one transaction."""
        async with transaction(sessions) as session:
            applied = await apply(session, events, datetime.now(UTC))
        for outcome, count in applied.outcomes.items():
            TIMELINE_EVENTS.labels(topic, outcome).inc(count)
        return {
            position: PermanentEventError(reason) for position, reason in applied.rejected.items()
        }

    return handle


def customer_events_handler(
    sessions: async_sessionmaker[AsyncSession], *, topic: str
) -> BatchHandler:
    """crm.messages.v1 and crm.tickets.v1: events naming a customer in `data.customer_id`."""

    async def apply(
        session: AsyncSession, events: Sequence[CloudEvent[dict[str, Any]]], now: datetime
    ) -> service.Applied:
        return await service.apply_customer_events(session=session, events=events, now=now)

    return _batch_handler(sessions, topic, apply)


def activity_handler(
    sessions: async_sessionmaker[AsyncSession],
    *,
    topic: str,
    guard: IdentityGuard = DEFAULT_GUARD,
    pending_for: timedelta = service.DEFAULT_PENDING,
    before: Apply | None = None,
) -> BatchHandler:
    """shop.activity.v1: storefront activity naming the shopper by their identities. `before`
    applies the batch's other concerns first, in the same transaction (the shop customer
    accounts: `contacts.consumers`); what either rejects is dead-lettered."""

    async def apply(
        session: AsyncSession, events: Sequence[CloudEvent[dict[str, Any]]], now: datetime
    ) -> service.Applied:
        first = await before(session, events, now) if before is not None else service.Applied()
        applied = await service.apply_activity(
            session=session, events=events, now=now, guard=guard, pending_for=pending_for
        )
        applied.rejected = first.rejected | applied.rejected
        return applied

    return _batch_handler(sessions, topic, apply)
