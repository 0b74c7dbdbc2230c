from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from support_ticket.views.models import COLLECTION, View

Database = AsyncDatabase[dict[str, Any]]


async def ensure_indexes(*, database: Database) -> None:
    await database[COLLECTION].create_index("owner")


async def insert(*, database: Database, view: View) -> None:
    await database[COLLECTION].insert_one(view.model_dump(by_alias=True))


async def get(*, database: Database, owner: str, view_id: str) -> View | None:
    document = await database[COLLECTION].find_one({"_id": view_id, "owner": owner})
    return None if document is None else View.model_validate(document)


async def of_owner(*, database: Database, owner: str) -> list[View]:
    found = database[COLLECTION].find({"owner": owner}).sort([("name", 1), ("_id", 1)])
    return [View.model_validate(document) async for document in found]


async def delete(*, database: Database, owner: str, view_id: str) -> bool:
    result = await database[COLLECTION].delete_one({"_id": view_id, "owner": owner})
    return result.deleted_count == 1
