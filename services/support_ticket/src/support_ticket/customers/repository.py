"""Every query on the `customers` collection.

Each write is safe to repeat: FerretDB has no multi-document transactions, so an event whose
effect was stored but not yet recorded as processed is applied again after a crash.
"""

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from support_ticket.customers.models import COLLECTION, Customer

Database = AsyncDatabase[dict[str, Any]]

_PERSONAL = ("email", "phone", "first_name", "last_name")


def _customers(database: Database) -> AsyncCollection[dict[str, Any]]:
    return database[COLLECTION]


async def ensure_indexes(*, database: Database) -> None:
    await _customers(database).create_index("merged_into")
    await _customers(database).create_index("email")


async def get(*, database: Database, customer_id: str) -> Customer | None:
    document = await _customers(database).find_one({"_id": customer_id})
    return None if document is None else Customer.model_validate(document)


async def upsert_newer(*, database: Database, customer: Customer) -> None:
    """Insert, or overwrite only when `customer` carries a newer version than the stored one.

    An erased customer is a tombstone: no later version brings its data back.
    """
    fields = customer.model_dump(exclude={"customer_id", "merged_into", "erased"})
    try:
        await _customers(database).update_one(
            {
                "_id": customer.customer_id,
                "version": {"$lt": customer.version},
                "erased": {"$ne": True},
            },
            {"$set": fields, "$setOnInsert": {"merged_into": None, "erased": False}},
            upsert=True,
        )
    except DuplicateKeyError:
        # The filter missed an existing document (as new or newer, or erased), so the upsert
        # tried to insert a second one with the same _id: nothing to change.
        pass


async def mark_merged(
    *, database: Database, merged_id: str, survivor_id: str, at: datetime
) -> None:
    """Point `merged_id`, and every customer that pointed at it, to `survivor_id`."""
    await _customers(database).update_one(
        {"_id": merged_id},
        {
            "$set": {"merged_into": survivor_id, "updated_at": at},
            "$setOnInsert": {**dict.fromkeys(_PERSONAL), "erased": False, "version": 0},
        },
        upsert=True,
    )
    await _customers(database).update_many(
        {"merged_into": merged_id}, {"$set": {"merged_into": survivor_id}}
    )


async def erase(*, database: Database, customer_id: str, at: datetime) -> None:
    """Blank the personal data of `customer_id` and of the customers merged into it."""
    blank = {**dict.fromkeys(_PERSONAL), "erased": True, "updated_at": at}
    await _customers(database).update_one(
        {"_id": customer_id},
        {"$set": blank, "$setOnInsert": {"merged_into": None, "version": 0}},
        upsert=True,
    )
    await _customers(database).update_many({"merged_into": customer_id}, {"$set": blank})
