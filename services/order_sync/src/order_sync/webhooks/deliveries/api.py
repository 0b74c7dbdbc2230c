"""Stored webhook deliveries: read them, and replay an accepted one."""

from datetime import UTC, datetime
from typing import Annotated

from crm_common.db import transaction
from crm_common.http import Int64
from fastapi import APIRouter, Query, Response

from order_sync.deps import Caller, SessionsDep, SettingsDep
from order_sync.webhooks.deliveries import service
from order_sync.webhooks.deliveries.schemas import (
    DeliveryFilters,
    DeliveryPage,
    DeliveryRead,
    ReplayReceipt,
)
from order_sync.webhooks.schemas import Outcome
from order_sync.webhooks.topics import Topics

router = APIRouter(prefix="/v1/webhooks/deliveries", tags=["webhooks"])


@router.get("")
async def list_deliveries(
    sessions: SessionsDep,
    store_id: str | None = None,
    platform: str | None = None,
    topic: str | None = None,
    outcome: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    """Stored deliveries without their bodies, newest first, filtered and cursor-paginated
    (`next_cursor`, null at the end)."""
    filters = DeliveryFilters(store_id=store_id, platform=platform, topic=topic, outcome=outcome)
    async with sessions() as session:
        return await service.list_deliveries(
            session=session, filters=filters, limit=limit, cursor=cursor
        )


@router.get("/{delivery}", responses={404: {"description": "no such delivery"}})
async def read_delivery(delivery: Int64, sessions: SessionsDep) -> DeliveryRead:
    """A stored delivery with its headers, its raw body (while kept) and its replays. Admin
    only (access.py): bodies hold the shop's customers' personal data."""
    async with sessions() as session:
        return await service.get_delivery(session=session, delivery=delivery)


@router.post(
    "/{delivery}:replay",
    responses={
        202: {"model": ReplayReceipt, "description": "replayed; the topic is not handled"},
        404: {"description": "no such delivery"},
        409: {"description": "rejected (no body kept), body purged, or no topic"},
        422: {"description": "the stored body does not map (the replay is recorded, failed)"},
    },
)
async def replay_delivery(
    delivery: Int64,
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    principal: Caller,
) -> ReplayReceipt:
    """Apply an accepted delivery's stored body again through the same mapping path; what is
    already stored answers `unchanged` and announces nothing."""
    async with transaction(sessions) as session:
        replayed = await service.replay_delivery(
            session=session,
            delivery=delivery,
            replayed_by=principal.subject,
            topics=Topics.of(settings),
            now=datetime.now(UTC),
        )
    if replayed.problem is not None:
        raise replayed.problem
    applied = replayed.applied
    response.status_code = 202 if applied.outcome == Outcome.IGNORED else 200
    return ReplayReceipt(
        delivery=delivery,
        replay=replayed.replay,
        outcome=applied.outcome,
        order_id=applied.order_id,
        detail=applied.detail,
    )
