"""Every query on the ticket collections.

FerretDB has no multi-document transactions: a ticket's change, its history entry and the event
announcing it go in one single-document update, guarded by the version read before it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from support_ticket.tickets.models import (
    ATTACHMENTS,
    COUNTERS,
    FIELD_DEFINITIONS,
    MESSAGES,
    TICKETS,
    AuthorKind,
    FieldDefinition,
    HistoryEntry,
    Message,
    PendingEvent,
    Ticket,
)

Database = AsyncDatabase[dict[str, Any]]
FIRST_NUMBER = 10001
"""Numbers start in five digits, so that `#10042` never reads as a quantity."""
_UNSTORED = {"ticket_id", "history", "outbox"}


def _tickets(database: Database) -> AsyncCollection[dict[str, Any]]:
    return database[TICKETS]


async def ensure_indexes(*, database: Database) -> None:
    tickets = _tickets(database)
    await tickets.create_index([("store_id", 1), ("number", 1)], unique=True)
    for key in ("customer_id", "attributed_customer_id", "mail_ids", "status", "assignee_id"):
        await tickets.create_index(key)
    await tickets.create_index([("updated_at", -1), ("_id", -1)])
    await tickets.create_index("next_alert_at")
    await database[MESSAGES].create_index([("ticket_id", 1), ("created_at", 1)])
    await database[MESSAGES].create_index("mail_message_id")
    await database[FIELD_DEFINITIONS].create_index([("store_id", 1), ("key", 1)], unique=True)


async def next_number(*, database: Database, store_id: str | None) -> int:
    """The store's next ticket number, from its counter document (under the store's number
    lease: FerretDB 1.24 loses concurrent increments; the unique index backs it up)."""
    counter = await database[COUNTERS].find_one_and_update(
        {"_id": f"ticket_number:{store_id or ''}"},
        {"$inc": {"issued": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert counter is not None  # an upsert returning the document after always finds one
    return FIRST_NUMBER - 1 + int(counter["issued"])


async def insert(*, database: Database, ticket: Ticket) -> None:
    await _tickets(database).insert_one(ticket.model_dump(by_alias=True))


async def get(*, database: Database, ticket_id: str) -> Ticket | None:
    document = await _tickets(database).find_one({"_id": ticket_id})
    return None if document is None else Ticket.model_validate(document)


async def get_by_number(*, database: Database, store_id: str | None, number: int) -> Ticket | None:
    document = await _tickets(database).find_one({"store_id": store_id, "number": number})
    return None if document is None else Ticket.model_validate(document)


async def find_by_mail_ids(*, database: Database, mail_ids: Sequence[str]) -> list[Ticket]:
    """The tickets holding any of these Message-IDs, most recently changed first."""
    if not mail_ids:
        return []
    found = _tickets(database).find({"mail_ids": {"$in": list(mail_ids)}})
    tickets = [Ticket.model_validate(document) async for document in found]
    return sorted(tickets, key=lambda ticket: ticket.updated_at, reverse=True)


async def save(
    *,
    database: Database,
    before: Ticket,
    after: Ticket,
    entries: Sequence[HistoryEntry],
    event: PendingEvent,
    new_mail_ids: Sequence[str] = (),
) -> bool:
    """Store `after` with its history entries and its event, if the ticket is still at
    `before.version`; False when another change came first."""
    fields = after.model_dump(exclude=_UNSTORED | {"mail_ids"})
    push: dict[str, Any] = {
        "history": {"$each": [entry.model_dump() for entry in entries]},
        "outbox": event.model_dump(),
    }
    if new_mail_ids:
        push["mail_ids"] = {"$each": list(new_mail_ids)}
    result = await _tickets(database).update_one(
        {"_id": before.ticket_id, "version": before.version}, {"$set": fields, "$push": push}
    )
    return result.matched_count == 1


async def set_schedule(
    *, database: Database, ticket: Ticket, next_alert_at: datetime | None, sla_revision: int
) -> bool:
    """When to look at the ticket again, computed with configuration `sla_revision`, if the
    ticket is still at its version (no event: nothing a consumer sees changed)."""
    result = await _tickets(database).update_one(
        {"_id": ticket.ticket_id, "version": ticket.version},
        {"$set": {"next_alert_at": next_alert_at, "sla_revision": sla_revision}},
    )
    return result.matched_count == 1


async def due_for_sla(
    *, database: Database, now: datetime, revision: int, statuses: Sequence[str], limit: int
) -> list[str]:
    """Up to `limit` ids of tickets to look at: an alert instant reached, or open (one of
    `statuses`) and computed with a configuration older than `revision`."""
    open_ = {"status": {"$in": list(statuses)}}
    query = {
        "$or": [
            {"next_alert_at": {"$lte": now}},
            {**open_, "sla_revision": {"$lt": revision}},
            {**open_, "sla_revision": {"$exists": False}},
        ]
    }
    found = _tickets(database).find(query, projection={"_id": 1}).limit(limit)
    return [document["_id"] async for document in found]


@dataclass(frozen=True)
class TicketFilters:
    store_id: str | None = None
    statuses: tuple[str, ...] = ()
    assignee_id: str | None = None
    group_id: str | None = None
    customer_id: str | None = None
    tag: str | None = None
    text: str | None = None
    """Matched case-insensitively anywhere in the subject (FerretDB 1.x has no $text)."""


def _query(filters: TicketFilters) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if filters.store_id is not None:
        query["store_id"] = filters.store_id
    if filters.statuses:
        query["status"] = {"$in": list(filters.statuses)}
    for name in ("assignee_id", "group_id", "customer_id"):
        if (value := getattr(filters, name)) is not None:
            query[name] = value
    if filters.tag is not None:
        query["tags"] = filters.tag
    if filters.text:
        query["subject"] = {"$regex": _literal(filters.text), "$options": "i"}
    return query


def _literal(text: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() and not c.isspace() else c for c in text)


async def list_tickets(
    *, database: Database, filters: TicketFilters, after: tuple[datetime, str] | None, limit: int
) -> list[Ticket]:
    """Up to `limit` tickets matching `filters`, most recently changed first (ties by id),
    after the keyset position `after`."""
    query = _query(filters)
    if after is not None:
        updated_at, ticket_id = after
        query = {
            "$and": [
                query,
                {
                    "$or": [
                        {"updated_at": {"$lt": updated_at}},
                        {"updated_at": updated_at, "_id": {"$lt": ticket_id}},
                    ]
                },
            ]
        }
    found = (
        _tickets(database)
        .find(query, projection={"history": 0, "outbox": 0})
        .sort([("updated_at", -1), ("_id", -1)])
        .limit(limit)
    )
    return [Ticket.model_validate(document) async for document in found]


async def with_pending_events(*, database: Database, limit: int) -> list[tuple[str, list[Any]]]:
    """(ticket id, its pending events exactly as stored) for up to `limit` tickets."""
    found = _tickets(database).find(
        {"outbox.0": {"$exists": True}}, projection={"outbox": 1}, limit=limit
    )
    return [(document["_id"], document["outbox"]) async for document in found]


async def remove_pending(*, database: Database, ticket_id: str, stored: Sequence[Any]) -> None:
    """Take published events out of the ticket, by their stored value: events written since
    stay."""
    await _tickets(database).update_one({"_id": ticket_id}, {"$pullAll": {"outbox": list(stored)}})


async def tickets_of_customers(
    *, database: Database, customer_ids: Iterable[str], attributed: bool = False
) -> list[Ticket]:
    """Tickets whose customer (or, with `attributed`, whose attributed customer) is one of
    `customer_ids`."""
    field = "attributed_customer_id" if attributed else "customer_id"
    found = _tickets(database).find(
        {field: {"$in": sorted(set(customer_ids))}}, projection={"history": 0, "outbox": 0}
    )
    return [Ticket.model_validate(document) async for document in found]


async def insert_message(*, database: Database, message: Message) -> bool:
    """Store `message`; False when it is stored already (a retried delivery)."""
    try:
        await database[MESSAGES].insert_one(message.model_dump(by_alias=True))
    except DuplicateKeyError:
        return False
    return True


async def set_delivery(*, database: Database, message_id: str, delivery: str) -> None:
    await database[MESSAGES].update_one({"_id": message_id}, {"$set": {"delivery": delivery}})


async def get_message(*, database: Database, message_id: str) -> Message | None:
    document = await database[MESSAGES].find_one({"_id": message_id})
    return None if document is None else Message.model_validate(document)


async def find_message_by_mail_id(*, database: Database, mail_message_id: str) -> Message | None:
    document = await database[MESSAGES].find_one({"mail_message_id": mail_message_id})
    return None if document is None else Message.model_validate(document)


async def messages_of(*, database: Database, ticket_id: str) -> list[Message]:
    found = database[MESSAGES].find({"ticket_id": ticket_id}).sort([("created_at", 1), ("_id", 1)])
    return [Message.model_validate(document) async for document in found]


async def insert_attachment(
    *,
    database: Database,
    attachment_id: str,
    ticket_id: str,
    message_id: str,
    filename: str,
    content_type: str,
    content: bytes,
) -> None:
    try:
        await database[ATTACHMENTS].insert_one(
            {
                "_id": attachment_id,
                "ticket_id": ticket_id,
                "message_id": message_id,
                "filename": filename,
                "content_type": content_type,
                "content": content,
            }
        )
    except DuplicateKeyError:
        pass  # stored by an earlier try of the same message


async def get_attachment(
    *, database: Database, ticket_id: str, attachment_id: str
) -> dict[str, Any] | None:
    return await database[ATTACHMENTS].find_one({"_id": attachment_id, "ticket_id": ticket_id})


async def erase_customer_messages(*, database: Database, ticket_ids: Sequence[str]) -> None:
    """Blank what the requester wrote in these tickets: bodies, their contact, attachments."""
    if not ticket_ids:
        return
    ids = list(ticket_ids)
    await database[MESSAGES].update_many(
        {"ticket_id": {"$in": ids}, "author.kind": AuthorKind.CUSTOMER.value},
        {"$set": {"body": "", "author.email": None, "author.name": None, "attachments": []}},
    )
    written = database[MESSAGES].find(
        {"ticket_id": {"$in": ids}, "author.kind": AuthorKind.CUSTOMER.value},
        projection={"_id": 1},
    )
    message_ids = [document["_id"] async for document in written]
    if message_ids:
        await database[ATTACHMENTS].delete_many({"message_id": {"$in": message_ids}})


async def upsert_field_definition(*, database: Database, definition: FieldDefinition) -> None:
    await database[FIELD_DEFINITIONS].update_one(
        {"store_id": definition.store_id, "key": definition.key},
        {"$set": definition.model_dump()},
        upsert=True,
    )


async def field_definitions(*, database: Database, store_id: str | None) -> list[FieldDefinition]:
    found = database[FIELD_DEFINITIONS].find({"store_id": store_id}, projection={"_id": 0})
    definitions = [FieldDefinition.model_validate(document) async for document in found]
    return sorted(definitions, key=lambda definition: definition.key)
