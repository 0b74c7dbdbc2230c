"""A batch of shop-order events stores and announces exactly what applying them one at a time
does: the same rows, the same processed ids, the same outbox events in the same order."""

import json
import random
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common import db
from crm_common.testing.plugin import create_database, drop_database
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from order_sync.main import MIGRATIONS
from order_sync.orders import batch, service
from order_sync.orders.exceptions import UnknownStore
from order_sync.orders.schemas import Channel
from order_sync.stores import service as stores
from order_sync.stores.schemas import Platform, StoreCreate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STORE = "eq-shop"
BASE = datetime(2026, 11, 1, 10, tzinfo=UTC)
# A few states per field, so that random revisions make every kind of transition and no-op.
FINANCIAL = ["pending", "authorized", "paid", "partially_refunded", "refunded", "voided"]
FULFILLMENT = ["unfulfilled", "partial", "fulfilled"]
_SHIPMENT = {"external_id": "f-1", "carrier": "UPS", "tracking_numbers": ["1Z1"]}
SHIPMENTS: list[list[dict[str, Any]]] = [
    [],
    [{**_SHIPMENT, "status": "in_transit", "lines": [{"sku": "MUG-1", "quantity": 2}]}],
    [{**_SHIPMENT, "status": "delivered", "lines": [{"sku": "MUG-1", "quantity": 2}]}],
    [{**_SHIPMENT, "status": "delivered"}, {"status": "cancelled"}],
]
RETURNS: list[list[dict[str, Any]]] = [
    [],
    [{"external_id": "r-1", "status": "requested", "lines": [{"sku": "MUG-1", "quantity": 1}]}],
    [{"external_id": "r-1", "status": "received", "lines": [{"sku": "MUG-1", "quantity": 1}]}],
]
REFUNDS: list[list[dict[str, Any]]] = [
    [],
    [{"external_id": "rf-1", "amount": "12.50", "gateway": "manual", "lines": []}],
]
PAYMENTS: list[list[dict[str, Any]]] = [
    [],
    [{"external_id": "tx-1", "kind": "sale", "amount": "32.00", "gateway": "stripe"}],
]


def _revisions(rng: random.Random, count: int) -> list[batch.ShopOrderEvent]:
    """Shop events for a few orders: out of order, equal times, clock-only changes, redelivered
    ids, and some of a store that is not registered."""
    events: list[batch.ShopOrderEvent] = []
    for _ in range(count):
        roll = rng.random()
        if events and roll < 0.1:
            events.append(rng.choice(events))  # the same event id delivered again
            continue
        if events and roll < 0.2:
            # Only the shop's clock moved since an earlier revision.
            earlier = rng.choice(events).order
            later = earlier.updated_at + timedelta(minutes=rng.randint(1, 30))  # type: ignore[operator]
            order = earlier.model_copy(update={"updated_at": later})
        else:
            financial = rng.choice(FINANCIAL)
            order = CanonicalOrder.model_validate(
                {
                    **CANONICAL_ORDER_EXAMPLE,
                    "store_id": "not-registered" if roll > 0.95 else STORE,
                    "external_id": str(9_007_199_254_740_993 + rng.randint(0, 4)),
                    "placed_at": BASE.isoformat(),
                    "updated_at": (BASE + timedelta(minutes=rng.randint(0, 40))).isoformat(),
                    "financial_status": financial,
                    "fulfillment_status": rng.choice(FULFILLMENT),
                    "cancelled_at": (BASE + timedelta(hours=1)).isoformat()
                    if rng.random() < 0.2
                    else None,
                    "refunded_total": "32.00" if financial == "refunded" else "0",
                    "note": rng.choice([None, "gift", "leave at the door"]),
                    # Records on some revisions only, so that changes without any
                    # transition (announced as updated) stay common.
                    **(
                        {
                            "shipments": rng.choice(SHIPMENTS),
                            "returns": rng.choice(RETURNS),
                            "refunds": rng.choice(REFUNDS),
                            "payments": rng.choice(PAYMENTS),
                        }
                        if rng.random() < 0.4
                        else {}
                    ),
                }
            )
        events.append(
            batch.ShopOrderEvent(event_id=secrets.token_hex(16), order=order, channel=Channel.KAFKA)
        )
    # Last, every order with each kind of record, so that the tables compared hold some.
    for number in rng.sample(range(5), 5):
        order = CanonicalOrder.model_validate(
            {
                **CANONICAL_ORDER_EXAMPLE,
                "store_id": STORE,
                "external_id": str(9_007_199_254_740_993 + number),
                "placed_at": BASE.isoformat(),
                "updated_at": (BASE + timedelta(minutes=50)).isoformat(),
                "financial_status": "partially_refunded",
                "fulfillment_status": "fulfilled",
                "shipments": SHIPMENTS[2],
                "returns": RETURNS[2],
                "refunds": REFUNDS[1],
                "payments": PAYMENTS[1],
            }
        )
        events.append(
            batch.ShopOrderEvent(event_id=secrets.token_hex(16), order=order, channel=Channel.KAFKA)
        )
    return events


async def _database(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    url = await create_database(postgres_url, "test")
    engine = db.create_engine(url)
    try:
        await db.migrate(engine, MIGRATIONS)
        async with db.transaction(db.session_factory(engine)) as session:
            await stores.register_store(
                session=session,
                store_in=StoreCreate(
                    store_id=STORE, platform=Platform.CUSTOM, name="S", currency="USD"
                ),
            )
        yield engine
    finally:
        await engine.dispose()
        await drop_database(postgres_url, url)


@pytest.fixture
async def one_at_a_time(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    async for engine in _database(postgres_url):
        yield engine


@pytest.fixture
async def batched(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    async for engine in _database(postgres_url):
        yield engine


async def _state(engine: AsyncEngine) -> dict[str, Any]:
    """Everything the events left behind, without the times order-sync took from its clock."""
    queries = {
        "orders": "SELECT * FROM orders ORDER BY order_id",
        "lines": "SELECT * FROM order_lines ORDER BY order_id, position",
        "payments": "SELECT * FROM order_payments ORDER BY order_id, position",
        "refunds": "SELECT * FROM order_refunds ORDER BY order_id, position",
        "shipments": "SELECT * FROM order_shipments ORDER BY order_id, position",
        "returns": "SELECT * FROM order_returns ORDER BY order_id, position",
        "movements": "SELECT * FROM stock_movements ORDER BY order_id, kind, ref",
        "processed": "SELECT consumer, event_id FROM processed_events ORDER BY event_id",
        "outbox": "SELECT event_id, topic, key, payload FROM outbox_events ORDER BY seq",
    }
    state: dict[str, Any] = {}
    async with engine.connect() as connection:
        for name, query in queries.items():
            rows = (await connection.execute(text(query))).mappings().all()
            state[name] = [
                {k: v for k, v in row.items() if k not in {"created_at", "changed_at"}}
                for row in rows
            ]
    return state


RECORD_TABLES = ("payments", "refunds", "shipments", "returns", "movements")


def _chunks(rng: random.Random, events: Sequence[Any]) -> list[list[Any]]:
    chunks: list[list[Any]] = []
    position = 0
    while position < len(events):
        size = rng.choice([1, 2, 5, 17, len(events)])
        chunks.append(list(events[position : position + size]))
        position += size
    return chunks


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_a_batch_applies_like_one_event_at_a_time(
    seed: int, one_at_a_time: AsyncEngine, batched: AsyncEngine
) -> None:
    rng = random.Random(seed)
    events = _revisions(rng, 120)

    sessions = db.session_factory(one_at_a_time)
    unknown_alone = 0
    for event in events:
        try:
            async with db.transaction(sessions) as session:
                await service.apply_shop_order_event(
                    session=session, event_id=event.event_id, order=event.order, topic="out"
                )
        except UnknownStore:
            unknown_alone += 1

    sessions = db.session_factory(batched)
    unknown_batched = 0
    for chunk in _chunks(rng, events):
        async with db.transaction(sessions) as session:
            refused = await batch.apply_shop_order_events(
                session=session, events=chunk, topic="out"
            )
        assert all(chunk[position].order.store_id == "not-registered" for position in refused)
        unknown_batched += len(refused)

    alone, together = await _state(one_at_a_time), await _state(batched)
    assert unknown_batched == unknown_alone > 0
    assert len(alone["outbox"]) > len({row["order_id"] for row in alone["orders"]})
    for name in ("orders", "lines", "processed", "outbox", *RECORD_TABLES):
        assert together[name] == alone[name], name
    for name in RECORD_TABLES:
        assert alone[name], f"no {name} stored: the test would prove nothing about them"
    kinds = {json.loads(row["payload"])["type"] for row in alone["outbox"]}
    assert {
        "crm.order.placed",
        "crm.order.updated",
        "crm.order.shipment_updated",
        "crm.order.returned",
    } <= kinds
