"""One shop webhook followed through the suite by the spans the services export."""

import base64
import hashlib
import hmac
import json
import secrets

import httpx
import pytest

from .conftest import ROOT, TokenFactory, eventually
from .spans import Span, SpanReceiver

pytestmark = pytest.mark.integration

SHOPIFY_ORDER = ROOT / "services/order_sync/tests/fixtures/shopify/orders_create.json"


async def test_a_webhook_is_followed_through_the_suite_by_its_spans(
    http: dict[str, httpx.AsyncClient],
    token: TokenFactory,
    span_receiver: SpanReceiver,
    store_id: str,
) -> None:
    secret = secrets.token_hex(16)
    registered = await http["order-sync"].post(
        "/v1/stores",
        json={
            "store_id": store_id,
            "platform": "shopify",
            "name": "Traced shop",
            "currency": "USD",
            "webhook_secret": secret,
        },
        headers=token.headers("admin"),
    )
    assert registered.status_code == 201, registered.text
    order = json.loads(SHOPIFY_ORDER.read_text())
    order["id"] = secrets.randbelow(10**12)
    order["email"] = f"traced.{secrets.token_hex(3)}@example.com"
    body = json.dumps(order).encode()
    delivered = await http["order-sync"].post(
        f"/v1/webhooks/shopify/{store_id}",
        content=body,
        headers=_shopify_headers(secret, body),
    )
    assert delivered.status_code == 200, delivered.text

    async def webhook_trace() -> str | None:
        return next(
            (
                span.trace_id
                for span in span_receiver.spans()
                if span.service == "order-sync"
                and span.name == "POST /v1/webhooks/shopify/{store_id}"
                and store_id in span.attributes.get("http.target", "")
            ),
            None,
        )

    trace_id = await eventually(webhook_trace, what="order-sync's span of the webhook")

    async def followed() -> dict[str, set[str]] | None:
        reached = _reached_from(trace_id, span_receiver.spans())
        return reached if FOLLOWERS <= reached.keys() else None

    reached = await eventually(
        followed, what=f"spans of {sorted(FOLLOWERS)} reached from the webhook's trace"
    )
    # The order's own consumers link to the webhook's trace; campaign and support-ticket get
    # there through the customer that customer-profile announced for the order.
    linking = {s.service for s in span_receiver.spans() if trace_id in s.linked_trace_ids}
    assert {"customer-profile", "analytics"} <= linking
    assert trace_id in reached["order-sync"]


FOLLOWERS = {"order-sync", "customer-profile", "analytics", "campaign", "support-ticket"}


def _reached_from(trace_id: str, spans: list[Span]) -> dict[str, set[str]]:
    """The traces of each service reached from `trace_id`, through its spans and the spans of
    batch consumers linking to the records it produced (OpenTelemetry's messaging conventions:
    a batch's span links to each record's trace rather than continuing one)."""
    traces = {trace_id}
    while True:
        more = {s.trace_id for s in spans if s.linked_trace_ids & traces} - traces
        if not more:
            break
        traces |= more
    reached: dict[str, set[str]] = {}
    for span in spans:
        if span.trace_id in traces:
            reached.setdefault(span.service, set()).add(span.trace_id)
    return reached


def _shopify_headers(secret: str, body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": secrets.token_hex(8),
        "X-Shopify-Shop-Domain": "traced.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Hmac-Sha256": signature.decode(),
    }
