"""Every collection's indexes, created at start before the consumers run (a no-op when present)."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from support_ticket.customers import repository as customers
from support_ticket.tickets import repository as tickets
from support_ticket.views import repository as views


async def ensure_indexes(database: AsyncDatabase[dict[str, Any]]) -> None:
    await customers.ensure_indexes(database=database)
    await tickets.ensure_indexes(database=database)
    await views.ensure_indexes(database=database)
