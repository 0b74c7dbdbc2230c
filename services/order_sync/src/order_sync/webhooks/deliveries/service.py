"""Reading stored webhook deliveries, and replaying an accepted one through the mapping path it
took when it arrived."""

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.problems import ProblemError
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.connectors._fields import PayloadError
from order_sync.stores.schemas import Platform
from order_sync.webhooks import service as webhooks
from order_sync.webhooks.deliveries import repository
from order_sync.webhooks.deliveries.exceptions import (
    DeliveryNotFound,
    InvalidCursor,
    NotReplayable,
)
from order_sync.webhooks.deliveries.models import WebhookReplay
from order_sync.webhooks.deliveries.schemas import (
    BodyState,
    DeliveryFilters,
    DeliveryPage,
    DeliveryRead,
    DeliverySummary,
    ReplayRead,
)
from order_sync.webhooks.exceptions import MalformedPayload
from order_sync.webhooks.flows import Applied
from order_sync.webhooks.models import WebhookDelivery
from order_sync.webhooks.platforms import PLATFORMS
from order_sync.webhooks.schemas import Outcome
from order_sync.webhooks.topics import Topics


async def list_deliveries(
    *, session: AsyncSession, filters: DeliveryFilters, limit: int, cursor: str | None
) -> DeliveryPage:
    """One page of the deliveries matching `filters`, newest first, after `cursor`; raises
    `InvalidCursor`."""
    before = _decode_cursor(cursor, filters) if cursor else None
    # One row more than asked tells whether another page follows.
    rows = await repository.list_deliveries(
        session=session, filters=filters, before=before, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    return DeliveryPage(
        deliveries=[_summary(dict(row._mapping)) for row in page],
        next_cursor=_encode_cursor(page[-1].id, filters) if more else None,
    )


async def get_delivery(*, session: AsyncSession, delivery: int) -> DeliveryRead:
    """The delivery with its headers, kept body and replays; raises `DeliveryNotFound`."""
    record = await repository.get_delivery(session=session, delivery=delivery)
    if record is None:
        raise DeliveryNotFound(delivery)
    replays = await repository.list_replays(session=session, delivery=delivery)
    summary = _summary(record.model_dump())
    kept = summary.body_state == BodyState.KEPT
    text: str | None = None
    if kept:
        try:
            text = record.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    return DeliveryRead(
        **summary.model_dump(),
        headers=record.headers,
        body_size=len(record.body) if kept else None,
        body=text,
        body_base64=base64.b64encode(record.body).decode() if kept and text is None else None,
        replays=[ReplayRead.model_validate(replay.model_dump()) for replay in replays],
    )


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a replay did, and how to answer it."""

    replay: int
    applied: Applied
    problem: ProblemError | None = None
    """Set when the body no longer maps (the replay is recorded all the same)."""


async def replay_delivery(
    *, session: AsyncSession, delivery: int, replayed_by: str, topics: Topics, now: datetime
) -> Replayed:
    """Apply the stored body of `delivery` again, exactly as on receipt (a topic handled since
    is applied now), and record the replay. Idempotent as the rules it goes through are: a
    revision already stored is `unchanged` and announces nothing. Raises `DeliveryNotFound`,
    or `NotReplayable` for a rejected delivery, a purged body or a delivery without a topic."""
    record = await repository.get_delivery(session=session, delivery=delivery, lock=True)
    if record is None:
        raise DeliveryNotFound(delivery)
    topic = _replayable_topic(record)
    spec = PLATFORMS[Platform(record.platform)]
    problem: ProblemError | None = None
    reason = spec.ignored_reason(topic)
    if reason is not None:
        applied = Applied(Outcome.IGNORED, detail=reason)
    else:
        try:
            applied = await webhooks.apply_payload(
                session=session, spec=spec, record=record, topic=topic, topics=topics
            )
        except PayloadError as error:
            problem = MalformedPayload(error.problems)
            applied = Applied(Outcome.FAILED, detail=str(error))
    replay = await repository.add_replay(
        session=session,
        replay=WebhookReplay(
            webhook_delivery_id=delivery,
            replayed_at=now,
            replayed_by=replayed_by,
            outcome=applied.outcome.value,
            detail=applied.detail,
            order_id=applied.order_id,
        ),
    )
    return Replayed(replay, applied, problem)


def _replayable_topic(record: WebhookDelivery) -> str:
    delivery = int(record.id or 0)
    if record.outcome == Outcome.REJECTED.value:
        raise NotReplayable(
            delivery, "it was rejected, so its body was never kept (anyone can send those bytes)"
        )
    if record.body_purged_at is not None:
        raise NotReplayable(
            delivery, f"its body was removed by the retention task at {record.body_purged_at}"
        )
    if record.topic is None:
        raise NotReplayable(delivery, "it names no topic (a ping, or its topic header was missing)")
    return record.topic


def _summary(row: Mapping[str, Any]) -> DeliverySummary:
    if row["outcome"] == Outcome.REJECTED.value:
        state = BodyState.NOT_KEPT
    elif row["body_purged_at"] is not None:
        state = BodyState.PURGED
    else:
        state = BodyState.KEPT
    return DeliverySummary.model_validate({**row, "body_state": state})


def _encode_cursor(last: int, filters: DeliveryFilters) -> str:
    """The position after the delivery `last`, bound to the filters it was issued for."""
    raw = json.dumps({"i": last, "f": _fingerprint(filters)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, filters: DeliveryFilters) -> int:
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        last, fingerprint = document["i"], document["f"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise InvalidCursor("not a cursor this API issued") from error
    if not isinstance(last, int) or isinstance(last, bool):
        raise InvalidCursor("not a cursor this API issued")
    if fingerprint != _fingerprint(filters):
        raise InvalidCursor("it was issued for other filters; start again without a cursor")
    return last


def _fingerprint(filters: DeliveryFilters) -> str:
    canonical = json.dumps(filters.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
