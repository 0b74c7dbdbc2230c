from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.rollups import service as rollups
from analytics.stores import repository
from analytics.stores.models import StoreSettings


async def set_time_zone(*, session: AsyncSession, store_id: str, time_zone: str) -> StoreSettings:
    """Set the store's time zone; when it changes, recount the store's days from its entries
    and its buyers from its facts, in the caller's transaction."""
    before = await repository.time_zone_of(session=session, store_id=store_id)
    now = datetime.now(UTC)
    await repository.save_settings(session=session, store_id=store_id, time_zone=time_zone, at=now)
    if before != time_zone:
        await rollups.rebuild_store(session=session, store_id=store_id)
    return StoreSettings(store_id=store_id, time_zone=time_zone, updated_at=now)
