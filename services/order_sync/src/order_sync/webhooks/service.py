"""Receiving a webhook: every delivery is kept raw with its outcome, whatever that outcome is.

The checks run in this order: the store (404 unknown, 409 wrong platform or no secret), the
WooCommerce ping (200), the signature (401), the topic and delivery-id headers (422), duplicates
(200) and topics not handled (202). An authentic, new delivery of a handled topic is answered
once it is stored (`received`, 200); its payload is applied behind the answer
(`apply_received`, run by `webhooks/applier.py`), which records its outcome.
"""

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from crm_common.problems import ProblemError
from opentelemetry import context as otel_context
from opentelemetry.propagate import extract, inject
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.connectors import shopify_records
from order_sync.connectors._fields import FieldProblem, PayloadError, parse_json_object
from order_sync.orders import parts
from order_sync.orders.exceptions import InvalidOrder
from order_sync.orders.schemas import Channel, UpsertStatus
from order_sync.stores.exceptions import StoreNotFound
from order_sync.stores.models import Store
from order_sync.stores.schemas import Platform
from order_sync.stores.service import find_store
from order_sync.webhooks import activity, flows, repository, signatures
from order_sync.webhooks.exceptions import (
    InvalidSignature,
    MissingHeaders,
    WebhookSecretMissing,
    WrongPlatform,
)
from order_sync.webhooks.flows import Applied
from order_sync.webhooks.models import WebhookDelivery
from order_sync.webhooks.platforms import PLATFORMS, PlatformSpec
from order_sync.webhooks.schemas import Outcome
from order_sync.webhooks.topics import Topics

logger = logging.getLogger(__name__)


RECEIVED_DETAIL = "stored; applied in the background: GET /v1/webhooks/deliveries/{id} tells how"


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


async def receive(*, session: AsyncSession, incoming: Incoming) -> Receipt:
    """Store `incoming`, to be applied behind the answer when it is authentic, new and handled."""
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
    )


async def _claimed(
    session: AsyncSession,
    spec: PlatformSpec,
    record: WebhookDelivery,
    *,
    topic: str,
    delivery_id: str,
) -> Receipt:
    record.dedup_key = spec.dedup_key(delivery_id, record.body_sha256)
    record.outcome = "received"
    delivery = await repository.insert_claiming(session=session, delivery=record)
    if delivery is None:
        detail = f"delivery {delivery_id} was received before"
        return await _record(session, record, Outcome.DUPLICATE, detail, status_code=200)

    reason = spec.ignored_reason(topic)
    if reason is None:
        return Receipt(delivery, Outcome.RECEIVED, 200, detail=RECEIVED_DETAIL)
    await repository.set_outcome(
        session=session,
        delivery_id=delivery,
        outcome=Outcome.IGNORED.value,
        detail=reason,
        order_id=None,
    )
    return Receipt(delivery, Outcome.IGNORED, 202, detail=reason)


async def apply_received(
    *, session: AsyncSession, record: WebhookDelivery, topics: Topics
) -> Applied:
    """Apply a stored `received` delivery and record its outcome: `failed`, with the reason,
    when its payload does not map or applying it broke (then nothing of it is kept but the
    outcome, and the platform's retry of it is taken again)."""
    spec = PLATFORMS[Platform(record.platform)]
    topic = record.topic or ""
    # The events it stages carry the trace of the request that brought it, not the applier's.
    token = otel_context.attach(extract(record.trace_context))
    try:
        # A savepoint: a delivery that fails leaves the others of the batch applied.
        async with session.begin_nested():
            applied = await apply_payload(
                session=session, spec=spec, record=record, topic=topic, topics=topics
            )
    except PayloadError as error:
        applied = Applied(Outcome.FAILED, detail=str(error))
    except Exception as error:
        # As on receipt before: kept failed with the reason, never retried forever.
        logger.exception("a received webhook delivery could not be applied")
        applied = Applied(Outcome.FAILED, detail=f"{type(error).__name__}: {error}")
    finally:
        otel_context.detach(token)
    await repository.set_outcome(
        session=session,
        delivery_id=int(record.id or 0),
        outcome=applied.outcome.value,
        detail=applied.detail,
        order_id=applied.order_id,
    )
    return applied


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
        trace_context=_current_trace(),
        received_at=incoming.received_at,
        outcome=Outcome.REJECTED.value,
    )


def _current_trace() -> dict[str, str]:
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def _webhook_secret(store: Store | None, incoming: Incoming) -> str:
    """The secret `incoming` must be signed with; raises the problem that refuses it."""
    if store is None:
        raise StoreNotFound(incoming.store_id)
    if store.platform != incoming.platform.value:
        raise WrongPlatform(store.store_id, store.platform, incoming.platform.value)
    if store.webhook_secret is None:
        raise WebhookSecretMissing(store.store_id)
    return store.webhook_secret


async def apply_payload(
    *,
    session: AsyncSession,
    spec: PlatformSpec,
    record: WebhookDelivery,
    topic: str,
    topics: Topics,
) -> Applied:
    """Apply the body of an authentic delivery of a handled `topic` (on receipt, or replayed);
    raises `PayloadError` when it does not map."""
    apply_activity = activity.applier(spec.platform, topic)
    if apply_activity is not None:
        return await apply_activity(
            session=session, store_id=record.store_id, body=record.body, topics=topics
        )
    orders_topic = topics.orders
    if spec.platform == Platform.SHOPIFY and topic in shopify_records.PART_TOPICS:
        return await _apply_part(session, record, topic=topic, orders_topic=orders_topic)
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


async def _apply_part(
    session: AsyncSession, record: WebhookDelivery, *, topic: str, orders_topic: str
) -> Applied:
    """A Shopify refund, fulfilment or transaction, merged into its order (`orders/parts.py`)."""
    payload = parse_json_object(record.body)
    part = shopify_records.part_from_payload(topic, payload, store_id=record.store_id)
    try:
        outcome = await parts.apply_part(
            session=session, part=part, topic=orders_topic, channel=Channel.WEBHOOK
        )
    except InvalidOrder as error:
        raise PayloadError(
            [FieldProblem(f"canonical.{e['field']}", e["message"]) for e in error.errors or []]
        ) from error
    if outcome is None:
        # Kept raw like every delivery, so a replay applies it once the order is stored;
        # meanwhile the orders/* payloads Shopify sends carry the same refunds and fulfilments
        # (not the transactions: those wait for the replay).
        detail = f"order {part.order_external_id} is not stored yet: {topic} not applied"
        return Applied(Outcome.IGNORED, detail=detail)
    if outcome.status == UpsertStatus.UNCHANGED:
        detail = f"{topic} adds nothing to order {part.order_external_id}"
        return Applied(Outcome.UNCHANGED, outcome.order_id, detail)
    events = ", ".join(outcome.events)
    detail = f"order {part.order_external_id} updated as version {outcome.version} ({events})"
    return Applied(Outcome.APPLIED, outcome.order_id, detail)


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
