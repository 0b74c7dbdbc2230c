"""Fixtures shared by crm_common's tests."""

from collections.abc import AsyncIterator

import pytest
from crm_common import db
from crm_common.testing.fakes import RecordingBroker
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh database with crm_common's tables (outbox, processed events)."""
    engine = db.create_engine(fresh_database)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def recording_broker() -> RecordingBroker:
    return RecordingBroker()
