"""Receiving a webhook: every delivery is kept raw with its outcome, whatever that outcome is.

The checks run in this order: the store (404 unknown, 409 wrong platform or no secret), the
WooCommerce ping (200), the signature (401), the topic and delivery-id headers (422), duplicates
(200), topics not handled (202), then the payload itself (422 when it does not map).
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from crm_common.problems import ProblemError
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.connectors._fields import PayloadError
from order_sync.stores.exceptions import StoreNotFound
from order_sync.stores.models import Store
from order_sync.stores.schemas import Platform
from order_sync.stores.service import find_store
from order_sync.webhooks import flows, repository, signatures
from order_sync.webhooks.exceptions import (
    InvalidSignature,
    MalformedPayload,
    MissingHeaders,
    WebhookSecretMissing,
    WrongPlatform,
)
from order_sync.webhooks.flows import Applied
from order_sync.webhooks.models import WebhookDelivery
from order_sync.webhooks.platforms import PLATFORMS, PlatformSpec
from order_sync.webhooks.schemas import Outcome


@dataclass(frozen=True, slots=True)
class Incoming:
    """A webhook request as it arrived."""

    platform: Platform
    store_id: str
    body: bytes
    headers: Mapping[str, str]
    """The platform's headers of interest, by lower-case name."""
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of a delivery, and how to answer it."""

    delivery: int
    outcome: Outcome
    status_code: int
    order_id: str | None = None
    detail: str | None = None
    problem: ProblemError | None = None
    """Set for an answer that is an error; the delivery is stored all the same."""


async def receive(*, session: AsyncSession, incoming: Incoming, orders_topic: str) -> Receipt:
    """Store `incoming` and apply it if it is authentic, new and handled."""
    spec = PLATFORMS[incoming.platform]
    record = _record_of(incoming, spec)
    store = await find_store(session=session, store_id=incoming.store_id)
    try:
        secret = _webhook_secret(store, incoming)
    except ProblemError as refusal:
        return await _record(session, record, Outcome.REJECTED, refusal.detail, problem=refusal)
    if spec.is_ping(record.headers, incoming.body):
        return await _record(session, record, Outcome.IGNORED, "webhook ping", status_code=200)

    signature = record.headers.get(spec.signature_header)
    if not signatures.verify(spec.key(secret), incoming.body, signature):
        forged = InvalidSignature(spec.signature_header, missing=not signature)
        return await _record(session, record, Outcome.REJECTED, forged.detail, problem=forged)
    if record.topic is None or record.delivery_id is None:
        missing = [
            h for h in (spec.topic_header, spec.delivery_header) if not record.headers.get(h)
        ]
        incomplete = MissingHeaders(missing)
        return await _record(session, record, Outcome.FAILED, incomplete.detail, problem=incomplete)
    return await _claimed(
        session,
        spec,
        record,
        topic=record.topic,
        delivery_id=record.delivery_id,
        orders_topic=orders_topic,
    )


async def _claimed(
    session: AsyncSession,
    spec: PlatformSpec,
    record: WebhookDelivery,
    *,
    topic: str,
    delivery_id: str,
    orders_topic: str,
) -> Receipt:
    record.dedup_key = spec.dedup_key(delivery_id, record.body_sha256)
    record.outcome = "received"
    delivery = await repository.insert_claiming(session=session, delivery=record)
    if delivery is None:
        detail = f"delivery {delivery_id} was received before"
        return await _record(session, record, Outcome.DUPLICATE, detail, status_code=200)

    reason = spec.ignored_reason(topic)
    if reason is not None:
        applied = Applied(Outcome.IGNORED, detail=reason)
    else:
        try:
            applied = await _apply(session, spec, record, topic=topic, orders_topic=orders_topic)
        except PayloadError as error:
            problem = MalformedPayload(error.problems)
            await repository.set_outcome(
                session=session,
                delivery_id=delivery,
                outcome=Outcome.FAILED.value,
                detail=str(error),
                order_id=None,
            )
            return Receipt(delivery, Outcome.FAILED, 422, detail=str(error), problem=problem)
    await repository.set_outcome(
        session=session,
        delivery_id=delivery,
        outcome=applied.outcome.value,
        detail=applied.detail,
        order_id=applied.order_id,
    )
    status_code = 202 if applied.outcome == Outcome.IGNORED else 200
    return Receipt(delivery, applied.outcome, status_code, applied.order_id, applied.detail)


async def record_failure(*, session: AsyncSession, incoming: Incoming, detail: str) -> int:
    """Keep a delivery whose handling broke unexpectedly (its transaction rolled back)."""
    record = _record_of(incoming, PLATFORMS[incoming.platform])
    record.outcome = Outcome.FAILED.value
    record.detail = detail
    return await repository.add(session=session, delivery=record)


def _record_of(incoming: Incoming, spec: PlatformSpec) -> WebhookDelivery:
    headers = dict(incoming.headers)
    return WebhookDelivery(
        platform=incoming.platform.value,
        store_id=incoming.store_id,
        topic=headers.get(spec.topic_header) or None,
        delivery_id=headers.get(spec.delivery_header) or None,
        body=incoming.body,
        body_sha256=hashlib.sha256(incoming.body).hexdigest(),
        headers=headers,
        received_at=incoming.received_at,
        outcome=Outcome.REJECTED.value,
    )


def _webhook_secret(store: Store | None, incoming: Incoming) -> str:
    """The secret `incoming` must be signed with; raises the problem that refuses it."""
    if store is None:
        raise StoreNotFound(incoming.store_id)
    if store.platform != incoming.platform.value:
        raise WrongPlatform(store.store_id, store.platform, incoming.platform.value)
    if store.webhook_secret is None:
        raise WebhookSecretMissing(store.store_id)
    return store.webhook_secret


async def _apply(
    session: AsyncSession,
    spec: PlatformSpec,
    record: WebhookDelivery,
    *,
    topic: str,
    orders_topic: str,
) -> Applied:
    if spec.platform == Platform.SHOPIFY:
        return await flows.apply_shopify(
            session=session, store_id=record.store_id, body=record.body, orders_topic=orders_topic
        )
    return await flows.apply_woocommerce(
        session=session,
        store_id=record.store_id,
        topic=topic,
        body=record.body,
        received_at=record.received_at,
        orders_topic=orders_topic,
    )


async def _record(
    session: AsyncSession,
    record: WebhookDelivery,
    outcome: Outcome,
    detail: str,
    *,
    status_code: int | None = None,
    problem: ProblemError | None = None,
) -> Receipt:
    record.outcome = outcome.value
    record.detail = detail
    if outcome == Outcome.REJECTED:
        # Unauthenticated bytes are not kept (anyone can send them); the digest and the
        # headers still tell an auditor what was refused.
        record.body = b""
    delivery = await repository.add(session=session, delivery=record)
    status = problem.status if problem is not None else status_code or 200
    return Receipt(delivery, outcome, status, detail=detail, problem=problem)
