from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.stores.models import StoreSettings

_settings = StoreSettings.__table__  # type: ignore[attr-defined]


async def settings_of(*, session: AsyncSession, store_id: str) -> StoreSettings | None:
    row = (
        await session.execute(select(_settings).where(_settings.c.store_id == store_id))
    ).one_or_none()
    return None if row is None else StoreSettings.model_validate(row._asdict())


async def time_zone_of(*, session: AsyncSession, store_id: str) -> str:
    found = await settings_of(session=session, store_id=store_id)
    return "UTC" if found is None else found.time_zone


async def save_settings(
    *, session: AsyncSession, store_id: str, time_zone: str, at: datetime
) -> None:
    statement = insert(_settings).values(store_id=store_id, time_zone=time_zone, updated_at=at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[_settings.c.store_id],
            set_={"time_zone": time_zone, "updated_at": at},
        )
    )
