"""Idempotent consumption on a store without multi-document transactions (FerretDB has none).

The effect and its record cannot commit together, so a handler checks `already_applied`, applies
an effect that is safe to repeat (a crash may fall between the two), then calls `record_applied`.
"""

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

COLLECTION = "processed_events"


def _key(consumer: str, event_id: str) -> str:
    return f"{consumer}:{event_id}"


async def already_applied(
    database: AsyncDatabase[dict[str, Any]], *, consumer: str, event_id: str
) -> bool:
    found = await database[COLLECTION].find_one(
        {"_id": _key(consumer, event_id)}, projection={"_id": 1}
    )
    return found is not None


async def record_applied(
    database: AsyncDatabase[dict[str, Any]], *, consumer: str, event_id: str
) -> None:
    """Remember that `consumer` applied `event_id`; call it after the effect is stored."""
    try:
        await database[COLLECTION].insert_one(
            {
                "_id": _key(consumer, event_id),
                "consumer": consumer,
                "event_id": event_id,
                "processed_at": datetime.now(UTC),
            }
        )
    except DuplicateKeyError:
        pass  # a redelivery applied and recorded it first
