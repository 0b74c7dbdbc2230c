"""Migration 0006 indexes the names of the customers already stored."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from crm_common import db
from customer_profile.customers.models import Customer
from customer_profile.main import MIGRATIONS
from customer_profile.search import names
from sqlalchemy import text

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _upgrade(sync_connection: Any, migrations: Path, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)


def _customer(customer_id: str, first: str | None, last: str | None, **extra: Any) -> Customer:
    return Customer(
        customer_id=customer_id,
        first_name=first,
        last_name=last,
        created_at=T0,
        updated_at=T0,
        **extra,
    )


async def test_names_stored_before_the_index_are_indexed(fresh_database: str) -> None:
    engine = db.create_engine(fresh_database, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade, MIGRATIONS, "0005_pii_encryption")
            await connection.commit()
        sessions = db.session_factory(engine)
        async with sessions() as session, session.begin():
            session.add_all(
                [
                    _customer("c-1", "Ángel", "O'Brien"),
                    _customer("c-2", None, "Lee"),
                    _customer("c-3", None, None),
                    _customer("c-4", "Merged", "Away", merged_into="c-1"),
                ]
            )
        await db.migrate(engine, MIGRATIONS)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT customer_id, term FROM customer_name_terms"))
            ).all()
    finally:
        await engine.dispose()
    found: dict[str, set[bytes]] = {}
    for customer_id, term in rows:
        found.setdefault(customer_id, set()).add(bytes(term))
    assert found == {"c-1": names.terms("Ángel", "O'Brien"), "c-2": names.terms(None, "Lee")}
    assert names.term("obr") in found["c-1"]
    assert names.term("angel") in found["c-1"]
