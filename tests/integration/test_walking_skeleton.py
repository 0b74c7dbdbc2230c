"""One order's journey through the whole suite, on real Kafka, PostgreSQL and MongoDB-wire."""

import secrets
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_events import topics

from .conftest import TokenFactory, canonical_order, eventually, register_store

pytestmark = pytest.mark.integration


async def test_an_order_flows_through_every_service(
    http: dict[str, httpx.AsyncClient],
    token: TokenFactory,
    shop_producer: AIOKafkaProducer,
    store_id: str,
) -> None:
    await register_store(http, token, store_id)
    email = f"Ann.{secrets.token_hex(3)}@Example.com"
    line = f"{secrets.randbelow(9000) + 1000}"  # a phone of this run's own
    # Reading contact data unmasked takes a role with the right to it in each service's matrix.
    admin, reader = token.headers("admin"), token.headers("marketer", "agent")

    # One order through the REST API...
    first = canonical_order(
        store_id,
        "1001",
        customer={"external_id": "c-1", "email": email, "phone": f"+1 415 555 {line}"},
    )
    posted = await http["order-sync"].post("/v1/orders", json=first, headers=admin)
    assert posted.status_code == 202, posted.text
    # ...and one from the shop's own event stream, the same person written differently.
    second = canonical_order(
        store_id,
        "1002",
        placed_at="2026-11-10T09:00:00Z",
        updated_at="2026-11-10T09:00:00Z",
        total="20.00",
        customer={"email": f"  {email.upper()} ", "phone": f"(415) 555-{line}"},
    )
    event = CloudEvent[dict[str, Any]](
        source=f"shop/{store_id}", type="shop.order.upserted", subject="1002", data=second
    )
    await shop_producer.send_and_wait(topics.SHOP_ORDERS, to_json_bytes(event), key=b"1002")

    async def profile() -> dict[str, Any] | None:
        response = await http["customer-profile"].get(
            "/v1/customers", params={"email": email.lower()}, headers=reader
        )
        items = response.json().get("items", []) if response.status_code == 200 else []
        if len(items) == 1 and items[0]["stats"]["orders_count"] == 2:
            return dict(items[0])
        return None

    customer = await eventually(profile, what="one customer with both orders")
    assert customer["stats"]["total_spent"] == "52.00"
    assert customer["stats"]["currency"] == "USD"
    assert customer["email"] == email.lower()
    assert customer["phone"] == f"+1415555{line}"
    customer_id = customer["customer_id"]

    async def kpis() -> dict[str, Any] | None:
        response = await http["analytics"].get(
            "/v1/kpis",
            params={"store_id": store_id, "from": "2026-11-01", "to": "2026-12-01"},
            headers=reader,
        )
        body = response.json()
        # Both orders attributed to one customer is the settled state; until then an order may
        # still count as unattributed.
        settled = body.get("orders") == 2 and body.get("repeat_purchase_rate") == "1.0000"
        return body if response.status_code == 200 and settled else None

    report = await eventually(kpis, what="KPIs counting both orders for one customer")
    assert report["customers"] == 1
    assert report["revenue"] == "52.00"
    assert report["aov"] == "26.00"
    assert report["currency"] == "USD"

    outside = await http["analytics"].get(
        "/v1/kpis",
        params={"store_id": store_id, "from": "2026-11-05", "to": "2026-12-01"},
        headers=reader,
    )
    assert outside.json()["orders"] == 1

    async def contact(service: str, path: str) -> dict[str, Any] | None:
        response = await http[service].get(path, headers=reader)
        return dict(response.json()) if response.status_code == 200 else None

    campaign_contact = await eventually(
        lambda: contact("campaign", f"/v1/contacts/{customer_id}"), what="campaign's contact"
    )
    assert campaign_contact["email"] == email.lower()
    ticket_customer = await eventually(
        lambda: contact("support-ticket", f"/v1/customers/{customer_id}"),
        what="support-ticket's customer",
    )
    assert ticket_customer["email"] == email.lower()


async def test_reposting_an_order_changes_nothing(
    http: dict[str, httpx.AsyncClient], token: TokenFactory, store_id: str
) -> None:
    await register_store(http, token, store_id)
    admin = token.headers("admin")
    order = canonical_order(store_id, "7", customer={"email": f"x{secrets.token_hex(3)}@ex.com"})
    created = await http["order-sync"].post("/v1/orders", json=order, headers=admin)
    again = await http["order-sync"].post("/v1/orders", json=order, headers=admin)
    older = await http["order-sync"].post(
        "/v1/orders", json={**order, "updated_at": "2026-11-01T10:00:00Z"}, headers=admin
    )
    # One more change after them: the same order's events are applied in the order sent, so
    # once it shows, the repost and the older copy have been applied before it.
    newer = {**order, "updated_at": "2026-11-01T10:09:00Z", "note": "gift wrap"}
    changed = await http["order-sync"].post("/v1/orders", json=newer, headers=admin)
    answers = (created, again, older, changed)
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.json()["order_id"] for answer in answers}) == 1
    order_id = created.json()["order_id"]

    async def stored() -> dict[str, Any] | None:
        response = await http["order-sync"].get(f"/v1/orders/{order_id}", headers=admin)
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body.get("note") == "gift wrap" else None

    # Version 2: the first copy made it, the change after the repost bumped it once.
    assert (await eventually(stored, what="the order's later change"))["version"] == 2


async def test_bad_requests_are_refused_with_problems(
    http: dict[str, httpx.AsyncClient], token: TokenFactory, store_id: str
) -> None:
    await register_store(http, token, store_id)
    order_sync = http["order-sync"]
    incomplete = canonical_order(store_id, "9", customer={"first_name": "No keys"}, lines=[])
    refused = await order_sync.post("/v1/orders", json=incomplete, headers=token.headers("admin"))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in refused.json()["errors"]}
    assert {"customer", "lines"} <= fields
    anonymous = await order_sync.post("/v1/orders", json=canonical_order(store_id, "9"))
    assert anonymous.status_code == 401
    viewer = await order_sync.post(
        "/v1/orders", json=canonical_order(store_id, "9"), headers=token.headers("viewer")
    )
    assert viewer.status_code == 403


async def test_a_malformed_shop_event_is_dead_lettered_with_its_reason(
    kafka_bootstrap: str, shop_producer: AIOKafkaProducer, services_running: None
) -> None:
    key = f"bad-{secrets.token_hex(4)}".encode()
    await shop_producer.send_and_wait(topics.SHOP_ORDERS, b'{"specversion": "1.0"', key=key)
    consumer = AIOKafkaConsumer(
        topics.dlq(topics.SHOP_ORDERS),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def dead_lettered() -> dict[str, bytes] | None:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key == key:
                        return dict(record.headers)
            return None

        headers = await eventually(dead_lettered, what="the malformed event on the DLQ")
    finally:
        await consumer.stop()
    assert b"invalid envelope" in headers["x-dlq-reason"]
