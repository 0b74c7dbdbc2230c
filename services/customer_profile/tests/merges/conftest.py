"""A customer-profile store on a real PostgreSQL database, driven by order events and merges."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.outbox import OutboxEvent
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS
from customer_profile.customers import service
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.customers.schemas import CustomerRead
from customer_profile.merges import service as merges
from customer_profile.merges.service import Outcome
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TOPIC = "crm.customers.v1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Store:
    """The service's rules over one test database; `seen` counts the outbox events read."""

    sessions: async_sessionmaker[AsyncSession]
    make_order: Callable[..., OrderSnapshot]
    order_event: Callable[..., CloudEvent[dict[str, Any]]]
    policy: IdentityPolicy = field(default_factory=IdentityPolicy)
    seen: int = 0

    async def apply(self, event: CloudEvent[dict[str, Any]]) -> None:
        async with transaction(self.sessions) as session:
            await service.apply_order_event(
                session=session, event=event, customers_topic=TOPIC, policy=self.policy
            )

    async def order(self, days: int = 0, **fields: Any) -> OrderSnapshot:
        """Apply a new order placed `days` after T0."""
        order = self.make_order(placed_at=T0 + timedelta(days=days), **fields)
        await self.apply(self.order_event(order))
        return order

    async def events(self) -> list[dict[str, Any]]:
        """Every outbox event, in commit order, each checked against its committed schema."""
        async with self.sessions() as session:
            rows = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars()
            found = []
            for row in rows:
                envelope = json.loads(row.payload)
                CONTRACTS.validate(envelope)
                assert row.key == envelope["subject"]
                found.append(envelope)
        return found

    async def new_events(self) -> list[dict[str, Any]]:
        """The outbox events since the last call."""
        found = await self.events()
        new, self.seen = found[self.seen :], len(found)
        return new

    async def by(self, **lookup: str) -> CustomerRead:
        """The one customer a lookup (email=..., phone=..., store_id+external_id) finds."""
        async with self.sessions() as session:
            found = await service.find_customers(session=session, **lookup)
        assert len(found) == 1, found
        return CustomerRead.of(found[0].customer, found[0].identities)

    async def read(self, customer_id: str) -> CustomerRead:
        async with self.sessions() as session:
            view = await service.get_customer(session=session, customer_id=customer_id)
        assert view is not None
        return CustomerRead.of(view.customer, view.identities)

    async def merge(self, survivor_id: str, merged_id: str, **extra: Any) -> Outcome:
        async with transaction(self.sessions) as session:
            return await merges.merge_manually(
                session=session,
                survivor_id=survivor_id,
                merged_id=merged_id,
                actor="admin@example.com",
                customers_topic=TOPIC,
                participants=self.policy.participants,
                **extra,
            )

    async def undo(self, merge_id: str) -> Outcome:
        async with transaction(self.sessions) as session:
            return await merges.undo_merge(
                session=session,
                merge_id=merge_id,
                actor="admin@example.com",
                customers_topic=TOPIC,
                participants=self.policy.participants,
            )

    async def log(self, customer_id: str | None = None) -> list[Any]:
        async with self.sessions() as session:
            entries, _ = await merges.log_page(
                session=session, customer_id=customer_id, after_seq=0, limit=100
            )
        return entries


@pytest.fixture
def store(sessions, make_order, order_event) -> Store:
    return Store(sessions, make_order, order_event)
