"""PostgreSQL access: the async engine, sessions and schema migrations."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Any constant works; it only has to be the same for every replica of every service.
_MIGRATION_LOCK_ID = 7_354_021


# Older pooled connections are replaced rather than trusted indefinitely (an idle-timeout or a
# failover between the service and the server can leave them dead without a word).
_POOL_RECYCLE_SECONDS = 1800


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine; the URL may omit the driver (`postgresql://`).

    No pre-ping: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) per checkout,
    more than a short request's own SQL. A connection the server closed (restart, terminated
    backend) is known closed locally and replaced at checkout, with the pool's other
    connections; one that died silently fails the statement it runs, which invalidates the pool,
    so that request fails once and the next ones get new connections."""
    engine = create_async_engine(
        asyncpg_url(database_url), pool_size=pool_size, pool_recycle=_POOL_RECYCLE_SECONDS
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(
    _: object, __: ConnectionPoolEntry, connection: PoolProxiedConnection
) -> None:
    driver = connection.driver_connection
    if driver is not None and driver.is_closed():
        # The server went away or ended the backend: the other pooled connections are as dead.
        raise exc.InvalidatePoolError("the server closed the connection")


def asyncpg_url(database_url: str) -> str:
    """Normalise `postgresql://` and `postgres://` URLs to the asyncpg dialect."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url.removeprefix(prefix)
    return database_url


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block succeeds, rolls back when it raises."""
    async with sessions() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    """Raises unless the server answers. A pooled connection that turns out dead invalidates the
    pool and is tried once more on a new one: the server is what is checked, not the pool."""
    try:
        await _select_one(engine)
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        await _select_one(engine)


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def migrate(engine: AsyncEngine, migrations_dir: Path) -> None:
    """Bring the schema to the newest revision; replicas starting together take turns."""
    async with engine.connect() as connection:
        await connection.execute(text(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_ID})"))
        try:
            await connection.run_sync(_upgrade, migrations_dir)
            await connection.commit()
        finally:
            await connection.execute(text(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK_ID})"))


def _upgrade(sync_connection: object, migrations_dir: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


def run_alembic_env(target_metadata: object) -> None:
    """The body of every service's `migrations/env.py`.

    Online only: the migration runs on the connection `migrate` hands over, or on one opened
    from `sqlalchemy.url` when Alembic's own command line is used.
    """
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError(
                "set sqlalchemy.url (alembic -x) or run through crm_common.db.migrate"
            )
        engine = create_async_engine(asyncpg_url(url))

        async def run() -> None:
            async with engine.connect() as conn:
                await conn.run_sync(_configure_and_run, target_metadata)
                await conn.commit()
            await engine.dispose()

        asyncio.run(run())
        return
    _configure_and_run(connection, target_metadata)


def _configure_and_run(connection: object, target_metadata: object) -> None:
    from alembic import context

    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,  # type: ignore[arg-type]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
