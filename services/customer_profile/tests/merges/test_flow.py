"""Merges through the whole service on real Kafka and PostgreSQL: orders in, merges, undo and
suggestions over HTTP, and the customer events they publish."""

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.auth import issue_token
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.testing.plugin import unique_topic
from crm_events.registry import CONTRACTS
from customer_profile.config import Settings
from customer_profile.main import create_app
from fastapi import FastAPI

pytestmark = pytest.mark.integration

T = TypeVar("T")
MOVING = ("version", "updated_at", "scored_at")


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 45.0) -> T:
    """`probe()`'s result once it stops failing an assertion; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await probe()
        except AssertionError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    """Authenticated as an admin."""
    settings: Settings
    records: list[Any] = field(default_factory=list)
    """Every record of the customers topic so far."""

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in self.records]

    async def publish(self, event: CloudEvent[Any], *, key: str) -> None:
        broker = self.app.state.runtime.broker
        await broker.publish(to_json_bytes(event), self.settings.orders_topic, key=key.encode())

    async def order(self, order: Any, order_event: Callable[..., Any]) -> CloudEvent[Any]:
        event = order_event(order)
        await self.publish(event, key=order.order_id)
        return event

    async def customer_of(self, **lookup: str) -> dict[str, Any]:
        """Once exactly one customer answers the lookup."""

        async def found() -> dict[str, Any]:
            response = await self.client.get("/v1/customers", params=lookup)
            assert response.status_code == 200, response.text
            items: list[dict[str, Any]] = response.json()["items"]
            assert len(items) == 1
            return items[0]

        return await eventually(found)

    async def published(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        """Once `count` events of `event_type` are on the topic; all of them."""

        async def enough() -> list[dict[str, Any]]:
            matching = [e for e in self.events if e["type"] == event_type]
            assert len(matching) >= count
            return matching

        return await eventually(enough)


@pytest.fixture
async def running(
    fresh_database: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> AsyncIterator[Running]:
    settings = Settings(
        database_url=fresh_database,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_public_key=jwt_keys[1],
        orders_topic=unique_topic("test.crm.orders"),
        customers_topic=unique_topic("test.crm.customers"),
        consumer_group=f"test-customer-profile-{secrets.token_hex(4)}",
        kafka_topic_partitions=2,
        outbox_poll_interval_seconds=0.1,
        consumer_retry_backoff_seconds=0.05,
    )
    token = issue_token(jwt_keys[0], subject="admin@example.com", roles=["admin"])
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://customer-profile",
            headers={"authorization": f"Bearer {token}"},
        ) as client,
    ):
        running = Running(app, client, settings)
        consumer = AIOKafkaConsumer(
            settings.customers_topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()

        async def pump() -> None:
            async for record in consumer:
                running.records.append(record)

        task = asyncio.create_task(pump())
        try:
            yield running
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()


def profile(value: Any) -> Any:
    """`value` without what an undo cannot give back: versions only grow, and the times a
    change was made (or a score computed) are the undo's own."""
    if isinstance(value, dict):
        return {k: profile(v) for k, v in value.items() if k not in MOVING}
    if isinstance(value, list):
        return [profile(item) for item in value]
    return value


IDENTITY_EVENTS = {
    "crm.customer.created",
    "crm.customer.updated",
    "crm.customer.identity_linked",
    "crm.customer.order_attributed",
    "crm.customer.merged",
    "crm.customer.unmerged",
}


def by_subject(events: list[dict[str, Any]], subject: str) -> list[str]:
    """The identity-related event types about one customer, in the order they arrived."""
    return [e["type"] for e in events if e["subject"] == subject and e["type"] in IDENTITY_EVENTS]


async def test_an_order_with_both_identities_merges_two_customers(
    running: Running, make_order, order_event
) -> None:
    await running.order(make_order(email="ada@example.com", total="10.00"), order_event)
    a = await running.customer_of(email="ada@example.com")
    await running.order(make_order(email=None, phone="+1 415 555 0100"), order_event)
    b = await running.customer_of(phone="+14155550100")
    assert a["customer_id"] != b["customer_id"]

    await running.order(
        make_order(email="ADA@example.com", phone="(415) 555-0100", billing_country="US"),
        order_event,
    )

    [merged] = await running.published("crm.customer.merged")
    assert merged["data"]["survivor_id"] == a["customer_id"]
    assert merged["data"]["merged_id"] == b["customer_id"]
    await running.published("crm.customer.updated")
    events = running.events
    for envelope in events:
        CONTRACTS.validate(envelope)
    # In order per customer (each on its own partition): the merge follows the merged
    # customer's own events; the survivor's update closes the change.
    assert by_subject(events, b["customer_id"]) == [
        "crm.customer.created",
        "crm.customer.identity_linked",
        "crm.customer.order_attributed",
        "crm.customer.merged",
    ]
    assert by_subject(events, a["customer_id"])[-2:] == [
        "crm.customer.order_attributed",
        "crm.customer.updated",
    ]
    assert {r.key for r in running.records if json.loads(r.value)["type"].endswith("merged")} == {
        b["customer_id"].encode()
    }

    survivor = await running.customer_of(phone="+14155550100")
    assert survivor["customer_id"] == a["customer_id"]
    assert survivor["stats"]["orders_count"] == 3
    gone = await running.client.get(f"/v1/customers/{b['customer_id']}")
    assert gone.status_code == 308
    assert gone.headers["location"] == f"/v1/customers/{a['customer_id']}"
    assert gone.headers["cache-control"] == "no-store"
    assert gone.json() == {"customer_id": b["customer_id"], "merged_into": a["customer_id"]}
    log = await running.client.get("/v1/merges", params={"customer_id": b["customer_id"]})
    [entry] = log.json()["items"]
    assert (entry["actor"], entry["reason"], entry["undone_by"]) == ("system", "identity", None)


async def test_a_manual_merge_and_its_undo_round_trip(
    running: Running, make_order, order_event, auth
) -> None:
    await running.order(
        make_order(email="grace@example.com", customer_ref="g-1", first_name="Grace"), order_event
    )
    await running.order(
        make_order(email="hopper@example.com", store_id="store-b", first_name="G."), order_event
    )
    first = await running.customer_of(email="grace@example.com")
    second = await running.customer_of(email="hopper@example.com")
    body = {"merge_with": first["customer_id"], "note": "same person, two addresses"}
    path = f"/v1/customers/{second['customer_id']}:merge"

    viewer = await running.client.post(path, json=body, headers=auth("viewer"))
    assert viewer.status_code == 403
    merged = await running.client.post(path, json=body)
    assert merged.status_code == 201, merged.text
    merge = merged.json()
    assert merged.headers["location"] == f"/v1/merges/{merge['merge_id']}"
    assert (merge["survivor_id"], merge["actor"]) == (second["customer_id"], "admin@example.com")
    assert len(merge["identities"]) == 2
    assert (await running.client.get(f"/v1/customers/{first['customer_id']}")).status_code == 308
    survivor = (await running.client.get(f"/v1/customers/{second['customer_id']}")).json()
    assert survivor["stats"]["orders_count"] == 2

    undone = await running.client.post(f"/v1/merges/{merge['merge_id']}:undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["action"] == "undo"

    after_first = await running.client.get(f"/v1/customers/{first['customer_id']}")
    after_second = await running.client.get(f"/v1/customers/{second['customer_id']}")
    assert profile(after_first.json()) == profile(first)
    assert profile(after_second.json()) == profile(second)
    [unmerged] = await running.published("crm.customer.unmerged")
    assert unmerged["subject"] == first["customer_id"]
    updates = await running.published("crm.customer.updated", 3)
    # Each customer's events are in order on its own partition, not across partitions.
    assert {u["subject"] for u in updates[-2:]} == {first["customer_id"], second["customer_id"]}
    assert by_subject(running.events, first["customer_id"])[-6:] == [
        "crm.customer.merged",
        "crm.customer.unmerged",
        "crm.customer.identity_linked",
        "crm.customer.identity_linked",
        "crm.customer.order_attributed",
        "crm.customer.updated",
    ]
    for envelope in running.events:
        CONTRACTS.validate(envelope)

    log = await running.client.get("/v1/merges", params={"customer_id": first["customer_id"]})
    items = log.json()["items"]
    assert [(i["action"], i["merge_id"]) for i in items] == [
        ("merge", merge["merge_id"]),
        ("undo", merge["merge_id"]),
    ]
    assert items[0]["undone_by"] == items[1]["entry_id"]
    again = await running.client.post(f"/v1/merges/{merge['merge_id']}:undo")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["errors"][0]["field"] == "path.merge_id"
    itself = await running.client.post(path, json={"merge_with": second["customer_id"]})
    assert (itself.status_code, itself.json()["errors"][0]["field"]) == (422, "merge_with")


async def test_a_widely_shared_phone_gives_a_suggestion_not_a_merge(
    running: Running, make_order, order_event
) -> None:
    emails = [f"buyer{i}@example.com" for i in range(4)]
    for email in emails:
        await running.order(make_order(email=email, phone="+1 415 555 0100"), order_event)

    async def suggested() -> dict[str, Any]:
        response = await running.client.get("/v1/merge-suggestions", params={"limit": 1})
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) == 1
        return page

    page = await eventually(suggested)
    [suggestion] = page["items"]
    assert suggestion["identity"] == {"kind": "phone", "value": "+14155550100", "store_id": None}
    assert [c["customer_id"] for c in suggestion["customers"]] == [
        suggestion["survivor_id"],
        suggestion["merged_id"],
    ]
    rest = await running.client.get(
        "/v1/merge-suggestions", params={"limit": 1, "cursor": page["next_cursor"]}
    )
    assert rest.json() == {"items": [], "next_cursor": None}
    assert (await running.client.get("/v1/merges")).json()["items"] == []
    assert "crm.customer.merged" not in [e["type"] for e in running.events]
    customers = {(await running.customer_of(email=email))["customer_id"] for email in emails}
    assert len(customers) == 2

    path = f"/v1/merge-suggestions/{suggestion['suggestion_id']}:dismiss"
    dismissed = await running.client.post(path)
    assert (dismissed.status_code, dismissed.json()["status"]) == (200, "dismissed")
    assert (await running.client.get("/v1/merge-suggestions")).json()["items"] == []
    assert (await running.client.post(path)).status_code == 409
    bad = await running.client.get("/v1/merge-suggestions", params={"cursor": "not-a-cursor"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "query.cursor")


async def test_a_redelivered_merging_event_changes_nothing(
    running: Running, make_order, order_event
) -> None:
    await running.order(make_order(email="alan@example.com"), order_event)
    await running.customer_of(email="alan@example.com")
    await running.order(make_order(email=None, phone="+44 20 7946 0958"), order_event)
    await running.customer_of(phone="+442079460958")
    joining = make_order(email="alan@example.com", phone="+44 20 7946 0958")
    event = await running.order(joining, order_event)
    await running.published("crm.customer.merged")

    # The same event again, then a newer snapshot of the same order on the same partition:
    # once that one shows, the redelivery has been consumed too.
    await running.publish(event, key=joining.order_id)
    cancelled = joining.model_copy(update={"version": 2, "cancelled_at": joining.placed_at})
    await running.publish(order_event(cancelled, "crm.order.cancelled"), key=joining.order_id)

    async def cancellation_counted() -> dict[str, Any]:
        customer = await running.customer_of(email="alan@example.com")
        assert customer["stats"]["orders_count"] == 2
        return customer

    await eventually(cancellation_counted)
    assert len([e for e in running.events if e["type"] == "crm.customer.merged"]) == 1
    log = (await running.client.get("/v1/merges")).json()["items"]
    assert len(log) == 1


async def test_a_merge_request_with_a_nul_character_is_422_naming_the_field(
    running: Running,
) -> None:
    in_body = await running.client.post(
        "/v1/customers/c-1:merge", json={"merge_with": "c-2\x00", "note": "n\x00"}
    )
    in_path = await running.client.post("/v1/customers/c%001:merge", json={"merge_with": "c-2"})
    undo = await running.client.post("/v1/merges/m-1:undo", json={"note": "\x00"})

    for response in (in_body, in_path, undo):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in in_body.json()["errors"]} == {"merge_with", "note"}
    assert {e["field"] for e in in_path.json()["errors"]} == {"path.customer_id"}
    assert {e["field"] for e in undo.json()["errors"]} == {"note"}
