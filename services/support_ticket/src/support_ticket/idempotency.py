"""Idempotent consumption on a store without multi-document transactions (FerretDB has none).

The effect and its record cannot commit together, so a handler checks `already_applied`, applies
an effect that is safe to repeat (a crash may fall between the two), then calls `record_applied`.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

COLLECTION = "processed_events"
DUPLICATE_KEY = 11000


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


async def applied_among(
    database: AsyncDatabase[dict[str, Any]], *, consumer: str, event_ids: Sequence[str]
) -> set[str]:
    """Those of `event_ids` that `consumer` applied before, in one query."""
    keys = {_key(consumer, event_id): event_id for event_id in event_ids}
    found = database[COLLECTION].find({"_id": {"$in": list(keys)}}, projection={"_id": 1})
    return {keys[document["_id"]] async for document in found}


async def record_all_applied(
    database: AsyncDatabase[dict[str, Any]], *, consumer: str, event_ids: Sequence[str]
) -> None:
    """`record_applied` for many events in one unordered write."""
    if not event_ids:
        return
    now = datetime.now(UTC)
    records = [
        {
            "_id": _key(consumer, event_id),
            "consumer": consumer,
            "event_id": event_id,
            "processed_at": now,
        }
        for event_id in event_ids
    ]
    try:
        await database[COLLECTION].insert_many(records, ordered=False)
    except BulkWriteError as error:
        # Duplicates were recorded by a redelivery first; any other failure fails the batch.
        if any(write["code"] != DUPLICATE_KEY for write in error.details["writeErrors"]):
            raise
