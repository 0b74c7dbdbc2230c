"""Registering and reading connected shops."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.stores import repository
from order_sync.stores.exceptions import StoreAlreadyExists, StoreNotFound
from order_sync.stores.models import Store
from order_sync.stores.schemas import StoreCreate


async def register_store(*, session: AsyncSession, store_in: StoreCreate) -> Store:
    """Register a new shop; an id already taken raises `StoreAlreadyExists`."""
    secret = store_in.webhook_secret.get_secret_value() if store_in.webhook_secret else None
    store = Store(
        store_id=store_in.store_id,
        platform=store_in.platform.value,
        name=store_in.name,
        currency=store_in.currency,
        country=store_in.country,
        webhook_secret=secret,
        created_at=datetime.now(UTC),
    )
    if not await repository.insert_new(session=session, store=store):
        raise StoreAlreadyExists(store_in.store_id)
    return store


async def get_store(*, session: AsyncSession, store_id: str) -> Store:
    """The shop registered as `store_id`; raises `StoreNotFound`."""
    store = await repository.get(session=session, store_id=store_id)
    if store is None:
        raise StoreNotFound(store_id)
    return store


async def find_store(*, session: AsyncSession, store_id: str) -> Store | None:
    """The shop registered as `store_id`, or None."""
    return await repository.get(session=session, store_id=store_id)
