"""The engine without pre-ping: a pooled connection whose backend is gone is replaced at
checkout, and the readiness ping checks the server, not a dead pooled connection."""

import pytest
from crm_common import db
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = await connection.scalar(text("SELECT pg_backend_pid()"))
        return pid


async def _terminate(database_url: str, pid: int) -> None:
    admin = db.create_engine(database_url, pool_size=1)
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # Returns once the backend has gone (or after the timeout, failing the test).
            await connection.execute(
                text(
                    "DO $$ BEGIN FOR i IN 1..200 LOOP "
                    "EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = "
                    f"{int(pid)}); PERFORM pg_sleep(0.01); END LOOP; END $$"
                )
            )
    finally:
        await admin.dispose()


async def test_a_connection_the_server_closed_is_replaced_at_checkout(
    fresh_database: str,
) -> None:
    engine = db.create_engine(fresh_database, pool_size=2)
    try:
        pid = await _backend(engine)
        await _terminate(fresh_database, pid)
        assert await _backend(engine) != pid
    finally:
        await engine.dispose()


async def test_ping_tries_a_new_connection_when_a_pooled_one_is_dead(fresh_database: str) -> None:
    engine = db.create_engine(fresh_database, pool_size=2)
    # As if the connection had died without the client noticing (no local check).
    event.remove(engine.sync_engine.pool, "checkout", db._replace_if_closed)
    try:
        pid = await _backend(engine)
        await _terminate(fresh_database, pid)
        await db.ping(engine)
        assert await _backend(engine) != pid
    finally:
        await engine.dispose()
