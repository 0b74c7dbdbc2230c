"""A crash between the commit and the publish loses no event; the schema matches the models."""

from collections.abc import Callable
from typing import Any

import pytest
from crm_common.db import migrate, transaction
from crm_common.runtime import PostgresRuntime
from crm_common.testing.migrations import migration_drift
from crm_events.shop import CanonicalOrder
from order_sync.config import Settings
from order_sync.main import MIGRATIONS, create_app
from order_sync.orders import service as orders
from order_sync.stores import service as stores
from order_sync.stores.schemas import Platform, StoreCreate
from sqlalchemy import text

pytestmark = pytest.mark.integration


async def test_events_committed_while_no_relay_runs_are_published_once_one_starts(
    settings: Settings,
    make_order: Callable[..., dict[str, Any]],
    read_topic: Callable[..., Any],
    eventually: Callable[..., Any],
    store_id: str,
) -> None:
    # The process that stores the order dies before its relay publishes anything: its runtime
    # is never started, so only the committed outbox rows survive it.
    crashed: PostgresRuntime = create_app(settings).state.runtime
    await migrate(crashed.engine, MIGRATIONS)
    async with transaction(crashed.sessions) as session:
        await stores.register_store(
            session=session,
            store_in=StoreCreate(
                store_id=store_id, platform=Platform.CUSTOM, name="S", currency="USD"
            ),
        )
        outcome = await orders.upsert_order(
            session=session,
            order=CanonicalOrder.model_validate(make_order(store_id)),
            topic=settings.orders_topic,
        )
    async with crashed.sessions() as session:
        staged = (
            await session.execute(
                text("SELECT event_id, key, payload FROM outbox_events ORDER BY seq")
            )
        ).all()
    await crashed.engine.dispose()
    assert len(staged) == 2  # placed and paid

    # A fresh process starts; its relay finds the rows and publishes them as they were stored.
    restarted: PostgresRuntime = create_app(settings).state.runtime
    await restarted.start()
    try:
        records = await read_topic(settings.orders_topic, lambda rs: len(rs) >= len(staged))

        async def outbox_empty() -> bool:
            async with restarted.sessions() as session:
                left = await session.scalar(text("SELECT count(*) FROM outbox_events"))
                return bool(left == 0)

        # The relay deletes the rows in the transaction it publishes from, after the acks.
        await eventually(outbox_empty, what="outbox drained")
    finally:
        await restarted.stop()

    assert [(r.key, r.value) for r in records] == [
        (outcome.order_id.encode(), bytes(row.payload)) for row in staged
    ]


async def test_the_migrations_build_exactly_the_models_tables(settings: Settings) -> None:
    runtime: PostgresRuntime = create_app(settings).state.runtime
    await migrate(runtime.engine, MIGRATIONS)

    async with runtime.engine.connect() as connection:
        diff = await connection.run_sync(migration_drift, "order_sync")
    await runtime.engine.dispose()

    assert diff == []
