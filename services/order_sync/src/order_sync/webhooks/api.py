"""Webhook receivers: no bearer token, the platform's HMAC signature authenticates each call."""

import logging
from datetime import UTC, datetime
from typing import Annotated

from crm_common.db import transaction
from fastapi import APIRouter, Path, Request, Response

from order_sync.deps import ApplierDep, SessionsDep
from order_sync.stores.schemas import STORE_ID_PATTERN, Platform
from order_sync.webhooks import service
from order_sync.webhooks.applier import DeliveryApplier
from order_sync.webhooks.platforms import PLATFORMS
from order_sync.webhooks.schemas import DeliveryReceipt, Outcome

logger = logging.getLogger(__name__)

# The receivers' request body limit (main.py): far above any order payload (Shopify caps its
# own at a few MB); a body is held in memory whole, since its signature covers all of it.
MAX_BODY_BYTES = 5 * 1024 * 1024

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

StoreId = Annotated[str, Path(pattern=STORE_ID_PATTERN)]

_RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"model": DeliveryReceipt, "description": "received; the topic is not handled"},
    401: {"description": "missing or wrong signature (recorded as rejected, without its body)"},
    404: {"description": "no such store"},
    409: {"description": "the store has no webhook secret, or is of another platform"},
    413: {"description": "body too large (not kept)"},
    422: {"description": "the topic or delivery-id header is missing (kept, failed)"},
}


def _delivery(*headers: str) -> dict[str, object]:
    """The raw delivery (read as bytes: its signature covers them) and the platform's headers."""
    return {
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            }
        },
        "parameters": [
            {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
            for name in headers
        ],
    }


@router.post(
    "/shopify/{store_id}",
    responses=_RESPONSES,
    openapi_extra=_delivery("X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id"),
)
async def shopify_webhook(
    store_id: StoreId,
    request: Request,
    response: Response,
    sessions: SessionsDep,
    applier: ApplierDep,
) -> DeliveryReceipt:
    """A Shopify webhook (`X-Shopify-Topic`, `X-Shopify-Hmac-Sha256`, `X-Shopify-Webhook-Id`)."""
    return await _receive(Platform.SHOPIFY, store_id, request, response, sessions, applier)


@router.post(
    "/woocommerce/{store_id}",
    responses=_RESPONSES,
    openapi_extra=_delivery(
        "X-WC-Webhook-Topic", "X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID"
    ),
)
async def woocommerce_webhook(
    store_id: StoreId,
    request: Request,
    response: Response,
    sessions: SessionsDep,
    applier: ApplierDep,
) -> DeliveryReceipt:
    """A WooCommerce webhook (`X-WC-Webhook-Topic`, `-Signature`, `-Delivery-ID`), or its ping."""
    return await _receive(Platform.WOOCOMMERCE, store_id, request, response, sessions, applier)


async def _receive(
    platform: Platform,
    store_id: str,
    request: Request,
    response: Response,
    sessions: SessionsDep,
    applier: DeliveryApplier,
) -> DeliveryReceipt:
    received_at = datetime.now(UTC)
    body = await request.body()
    spec = PLATFORMS[platform]
    incoming = service.Incoming(
        platform=platform,
        store_id=store_id,
        body=body,
        headers={n: request.headers[n] for n in spec.kept_headers if n in request.headers},
        received_at=received_at,
    )
    try:
        async with transaction(sessions) as session:
            receipt = await service.receive(session=session, incoming=incoming)
    except Exception as error:
        # Its transaction rolled back; the delivery itself must still be kept.
        await _keep_failed(sessions, incoming, f"{type(error).__name__}: {error}")
        raise
    if receipt.outcome == Outcome.RECEIVED:
        applier.wake()
    if receipt.problem is not None:
        raise receipt.problem
    response.status_code = receipt.status_code
    return DeliveryReceipt(
        delivery=receipt.delivery,
        outcome=receipt.outcome,
        order_id=receipt.order_id,
        detail=receipt.detail,
    )


async def _keep_failed(sessions: SessionsDep, incoming: service.Incoming, detail: str) -> None:
    try:
        async with transaction(sessions) as session:
            await service.record_failure(session=session, incoming=incoming, detail=detail)
    except Exception:
        logger.exception("could not keep a failed webhook delivery", extra={"detail": detail})
