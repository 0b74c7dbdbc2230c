import pytest
from campaign.main import MIGRATIONS, create_app  # noqa: F401  (create_app's imports load every model)
from crm_common import db
from crm_common.testing.migrations import migration_drift

pytestmark = pytest.mark.integration


async def test_the_migrations_build_exactly_the_models_tables(fresh_database: str) -> None:
    engine = db.create_engine(fresh_database, pool_size=1)
    try:
        await db.migrate(engine, MIGRATIONS)
        async with engine.connect() as connection:
            assert await connection.run_sync(migration_drift, "campaign") == []
    finally:
        await engine.dispose()
