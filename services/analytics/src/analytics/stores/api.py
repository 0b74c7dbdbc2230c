from crm_common.db import transaction
from fastapi import APIRouter

from analytics.deps import SessionsDep
from analytics.stores import repository, service
from analytics.stores.schemas import (
    StoreSettingsRead,
    StoreSettingsUpdate,
    default_settings,
    read_settings,
)

router = APIRouter(prefix="/v1/stores", tags=["stores"])


@router.get("/{store_id}/settings")
async def read_store_settings(store_id: str, sessions: SessionsDep) -> StoreSettingsRead:
    """The store's settings: its time zone (UTC until set)."""
    async with sessions() as session:
        found = await repository.settings_of(session=session, store_id=store_id)
    if found is None:
        return default_settings(store_id)
    return read_settings(found.store_id, found.time_zone, found.updated_at)


@router.put("/{store_id}/settings")
async def update_store_settings(
    store_id: str, body: StoreSettingsUpdate, sessions: SessionsDep
) -> StoreSettingsRead:
    """Set the store's time zone; a change recounts the store's roll-ups before answering."""
    async with transaction(sessions) as session:
        saved = await service.set_time_zone(
            session=session, store_id=store_id, time_zone=body.time_zone
        )
    return read_settings(saved.store_id, saved.time_zone, saved.updated_at)
