from crm_common.db import transaction
from fastapi import APIRouter, status

from order_sync.deps import SessionsDep
from order_sync.stores import service, sync_status
from order_sync.stores.models import Store
from order_sync.stores.schemas import Platform, StoreCreate, StoreRead, SyncStatusRead

router = APIRouter(prefix="/v1/stores", tags=["stores"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "a store with this id is registered already"}},
)
async def register_store(store_in: StoreCreate, sessions: SessionsDep) -> StoreRead:
    """Connect a shop; 409 when its id is already registered."""
    async with transaction(sessions) as session:
        store = await service.register_store(session=session, store_in=store_in)
    return _read(store)


@router.get("/{store_id}", responses={404: {"description": "no such store"}})
async def read_store(store_id: str, sessions: SessionsDep) -> StoreRead:
    """A connected shop (without its webhook secret)."""
    async with sessions() as session:
        store = await service.get_store(session=session, store_id=store_id)
    return _read(store)


@router.get("/{store_id}/sync-status", responses={404: {"description": "no such store"}})
async def read_sync_status(store_id: str, sessions: SessionsDep) -> SyncStatusRead:
    """What order-sync knows of the store's data: last order received, counts, imports,
    webhooks and errors."""
    async with sessions() as session:
        return await sync_status.sync_status(session=session, store_id=store_id)


def _read(store: Store) -> StoreRead:
    return StoreRead(
        store_id=store.store_id,
        platform=Platform(store.platform),
        name=store.name,
        currency=store.currency,
        country=store.country,
        webhook_secret_set=store.webhook_secret is not None,
        created_at=store.created_at,
    )
