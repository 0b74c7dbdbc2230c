"""Every query on the SLA configuration (one collection: the policy set and the calendars)."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from support_ticket.sla.models import COLLECTION, POLICIES_ID, StoredCalendar, StoredPolicies

Database = AsyncDatabase[dict[str, Any]]


def _calendar_key(calendar_id: str) -> str:
    return f"calendar:{calendar_id}"


async def get_policies(*, database: Database) -> StoredPolicies:
    document = await database[COLLECTION].find_one({"_id": POLICIES_ID})
    return StoredPolicies() if document is None else StoredPolicies.model_validate(document)


async def save_policies(*, database: Database, stored: StoredPolicies) -> None:
    await database[COLLECTION].replace_one(
        {"_id": POLICIES_ID}, _document(POLICIES_ID, stored), upsert=True
    )


async def get_calendar(*, database: Database, calendar_id: str) -> StoredCalendar | None:
    document = await database[COLLECTION].find_one({"_id": _calendar_key(calendar_id)})
    return None if document is None else StoredCalendar.model_validate(document)


async def get_calendars(*, database: Database, calendar_ids: set[str]) -> dict[str, StoredCalendar]:
    found = database[COLLECTION].find({"_id": {"$in": sorted(map(_calendar_key, calendar_ids))}})
    calendars = [StoredCalendar.model_validate(document) async for document in found]
    return {calendar.calendar_id: calendar for calendar in calendars}


async def save_calendar(*, database: Database, calendar: StoredCalendar) -> None:
    key = _calendar_key(calendar.calendar_id)
    await database[COLLECTION].replace_one({"_id": key}, _document(key, calendar), upsert=True)


def _document(key: str, model: StoredCalendar | StoredPolicies) -> dict[str, Any]:
    # BSON has no time of day nor date: the definitions go as JSON, the instant as an instant.
    return {"_id": key, **model.model_dump(mode="json"), "updated_at": model.updated_at}
