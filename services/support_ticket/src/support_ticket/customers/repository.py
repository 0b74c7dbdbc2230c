"""Every query on the `customers` collection.

Each write is safe to repeat: FerretDB has no multi-document transactions, so an event whose
effect was stored but not yet recorded as processed is applied again after a crash.
"""

from collections.abc import Collection
from datetime import datetime
from typing import Any

from crm_events.customer import CustomerSnapshot
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from support_ticket.customers.events import customer_from
from support_ticket.customers.models import COLLECTION, Customer

Database = AsyncDatabase[dict[str, Any]]

_PERSONAL = ("email", "phone", "first_name", "last_name")
DUPLICATE_KEY = 11000


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


async def upsert_newest(*, database: Database, snapshots: Collection[CustomerSnapshot]) -> None:
    """`upsert_newer` for many customers in one unordered bulk write (one snapshot each)."""
    if not snapshots:
        return
    updates = [
        {
            "q": {
                "_id": snapshot.customer_id,
                "version": {"$lt": snapshot.version},
                "erased": {"$ne": True},
            },
            "u": {
                "$set": _fields(snapshot),
                "$setOnInsert": {"merged_into": None, "erased": False},
            },
            "upsert": True,
        }
        for snapshot in snapshots
    ]
    # The `update` command itself, not `bulk_write`: FerretDB leaves `nModified` out of a reply
    # whose writes all failed, and PyMongo's bulk result then raises KeyError.
    reply = await database.command({"update": COLLECTION, "updates": updates, "ordered": False})
    # A duplicate key means the filter missed an existing document (as new or newer, or erased),
    # so the upsert tried to insert a second one: that customer needs nothing. Anything else
    # failed for real, and the batch is tried again (every write is safe to repeat).
    failed = [e for e in reply.get("writeErrors", ()) if e["code"] != DUPLICATE_KEY]
    if failed or "writeConcernError" in reply:
        raise OperationFailure(f"customer upserts failed: {failed or reply['writeConcernError']}")


def _fields(snapshot: CustomerSnapshot) -> dict[str, Any]:
    return customer_from(snapshot).model_dump(exclude={"customer_id", "merged_into", "erased"})


async def mark_merged(
    *, database: Database, merged_id: str, survivor_id: str, at: datetime
) -> None:
    """Point `merged_id` at `survivor_id`; the customers merged into `merged_id` keep pointing
    at it, and so reach `survivor_id` through it."""
    await _customers(database).update_one(
        {"_id": merged_id},
        {
            "$set": {"merged_into": survivor_id, "updated_at": at},
            "$setOnInsert": {**dict.fromkeys(_PERSONAL), "erased": False, "version": 0},
        },
        upsert=True,
    )


async def mark_unmerged(*, database: Database, merged_id: str, at: datetime) -> None:
    """`merged_id` is a customer of its own again, with the customers merged into it."""
    await _customers(database).update_one(
        {"_id": merged_id, "merged_into": {"$ne": None}},
        {"$set": {"merged_into": None, "updated_at": at}},
    )


async def merged_into(*, database: Database, customer_id: str) -> set[str]:
    """Every customer merged into `customer_id`, directly or through other merged customers."""
    seen = {customer_id}
    frontier = [customer_id]
    while frontier:
        documents = _customers(database).find(
            {"merged_into": {"$in": frontier}}, projection={"_id": 1}
        )
        # Skipping ids already seen ends the walk even on a cycle of merges.
        frontier = [d["_id"] async for d in documents if d["_id"] not in seen]
        seen.update(frontier)
    return seen - {customer_id}


async def erase(*, database: Database, customer_id: str, at: datetime) -> None:
    """Blank the personal data of `customer_id` and of every customer merged into it, directly
    or through other merged customers."""
    blank = {**dict.fromkeys(_PERSONAL), "erased": True, "updated_at": at}
    await _customers(database).update_one(
        {"_id": customer_id},
        {"$set": blank, "$setOnInsert": {"merged_into": None, "version": 0}},
        upsert=True,
    )
    merged = await merged_into(database=database, customer_id=customer_id)
    if merged:
        await _customers(database).update_many({"_id": {"$in": sorted(merged)}}, {"$set": blank})
