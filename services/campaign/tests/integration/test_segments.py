"""Segments end to end: real Kafka and PostgreSQL, the app started with its lifespan. Orders
reach customers through customer-profile's attributions; memberships are announced on
crm.segments.v1 through the outbox."""

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_ORDER_ATTRIBUTED,
)
from crm_events.order import ORDER_CANCELLED, ORDER_PLACED
from crm_events.topics import CRM_CUSTOMERS, CRM_ORDERS, CRM_SEGMENTS

pytestmark = pytest.mark.integration

MARKETER = "marketer"


class SegmentFeed:
    """What crm.segments.v1 has carried, by customer."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.seen: list[dict[str, Any]] = []

    async def read(self) -> list[dict[str, Any]]:
        batches = await self.consumer.getmany(timeout_ms=200)
        self.seen += [orjson.loads(r.value) for rs in batches.values() for r in rs]
        return self.seen

    def of(self, customer_id: str) -> list[tuple[str, int]]:
        return [
            (event["type"], event["data"]["version"])
            for event in self.seen
            if event["subject"] == customer_id
        ]


@pytest.fixture
async def feed(kafka_bootstrap: str, client: Any) -> AsyncIterator[SegmentFeed]:
    """crm.segments.v1 from its start, read by a group of its own (the tests' customers are
    new: what is theirs there is this test's)."""
    consumer = AIOKafkaConsumer(
        CRM_SEGMENTS,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"campaign-tests.feed.{secrets.token_hex(4)}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    yield SegmentFeed(consumer)
    await consumer.stop()


async def send(producer: Any, topic: str, event: CloudEvent[Any]) -> None:
    key = event.subject.encode() if event.subject else None
    await producer.send_and_wait(topic, to_json_bytes(event), key=key)


def placed(order_id: str, *, sku: str, at: datetime) -> CloudEvent[Any]:
    example = ORDER_PLACED.example
    data = {
        **example,
        "order_id": order_id,
        "external_id": order_id,
        "placed_at": at,
        "updated_at": at,
        "lines": [{**example["lines"][0], "sku": sku}],
    }
    return ORDER_PLACED.event(ORDER_PLACED.model.model_validate(data), source="test")


def attributed(customer_id: str, order_id: str) -> CloudEvent[Any]:
    data = {
        "customer_id": customer_id,
        "order_id": order_id,
        "store_id": "demo",
        "order_external_id": order_id,
    }
    return CUSTOMER_ORDER_ATTRIBUTED.event(
        CUSTOMER_ORDER_ATTRIBUTED.model.model_validate(data), source="test"
    )


async def create_live_segment(
    client: Any, auth: Any, eventually: Any, definition: dict[str, Any]
) -> str:
    response = await client.post(
        "/v1/segments",
        json={"name": "test segment", "definition": definition},
        headers=auth(MARKETER),
    )
    assert response.status_code == 201, response.text
    segment_id: str = response.json()["segment_id"]

    async def live() -> bool:
        read = await client.get(f"/v1/segments/{segment_id}", headers=auth(MARKETER))
        return bool(read.json()["status"] == "live")

    await eventually(live)
    return segment_id


async def test_an_order_enters_the_customer_once_and_erasure_makes_them_exit(
    client, auth, producer, eventually, feed, new_customer, customer_event, database
):
    customer = new_customer()
    order_id = f"order-{secrets.token_hex(4)}"
    sku = f"SKU-{secrets.token_hex(3)}"
    await send(producer, CRM_CUSTOMERS, customer_event(**customer))
    await send(producer, CRM_CUSTOMERS, attributed(customer["customer_id"], order_id))
    segment_id = await create_live_segment(
        client,
        auth,
        eventually,
        {
            "kind": "event",
            "name": "order_placed",
            "in_last": "P90D",
            "value": 1,
            "where": [{"property": "sku", "op": "eq", "value": sku}],
        },
    )
    order = placed(order_id, sku=sku, at=datetime.now(UTC))

    await send(producer, CRM_ORDERS, order)

    async def entered() -> bool:
        await feed.read()
        return feed.of(customer["customer_id"]) == [("crm.segment.entered", 1)]

    await eventually(entered)
    event = next(e for e in feed.seen if e["subject"] == customer["customer_id"])
    assert event["data"]["segment_id"] == segment_id
    assert event["data"]["cause_event_id"] == order.id
    explained = await client.get(
        f"/v1/segments/{segment_id}/members/{customer['customer_id']}", headers=auth("viewer")
    )
    assert explained.status_code == 200
    assert explained.json()["member"] is True
    assert sku in explained.json()["explanation"]["detail"]

    # The same event again, and the same order announced anew: nothing changes.
    await send(producer, CRM_ORDERS, order)
    await send(producer, CRM_ORDERS, placed(order_id, sku=sku, at=datetime.now(UTC)))
    # Then its cancellation, on the same key: once it is stored, so were the two before it. (An
    # erasure on the other topic could otherwise overtake them.)
    cancelled = ORDER_CANCELLED.event(
        ORDER_CANCELLED.model.model_validate(
            {
                **placed(order_id, sku=sku, at=datetime.now(UTC)).data.model_dump(),
                "cancelled_at": datetime.now(UTC),
            }
        ),
        source="test",
    )
    await send(producer, CRM_ORDERS, cancelled)

    async def cancellation_stored() -> bool:
        count = await database.fetchval(
            "SELECT count(*) FROM behaviour_facts WHERE fact_id = $1",
            f"order_cancelled:{order_id}",
        )
        return bool(count == 1)

    await eventually(cancellation_stored)
    erase = CUSTOMER_ERASED.event(
        CUSTOMER_ERASED.model.model_validate(
            {"customer_id": customer["customer_id"], "erased_at": datetime.now(UTC)}
        ),
        source="test",
    )
    await send(producer, CRM_CUSTOMERS, erase)

    async def exited() -> bool:
        await feed.read()
        return ("crm.segment.exited", 2) in feed.of(customer["customer_id"])

    await eventually(exited)
    assert feed.of(customer["customer_id"]) == [
        ("crm.segment.entered", 1),
        ("crm.segment.exited", 2),
    ]
    facts = await database.fetchval(
        "SELECT count(*) FROM behaviour_facts WHERE owner_key = $1", f"order:{order_id}"
    )
    assert facts == 0


async def test_time_alone_moves_a_customer_into_an_absence_segment(
    client, auth, producer, eventually, feed, new_customer, customer_event
):
    customer = new_customer()
    order_id = f"order-{secrets.token_hex(4)}"
    await send(producer, CRM_CUSTOMERS, customer_event(**customer))
    await send(producer, CRM_CUSTOMERS, attributed(customer["customer_id"], order_id))
    await send(producer, CRM_ORDERS, placed(order_id, sku="A", at=datetime.now(UTC)))
    no_recent_order = {
        "kind": "and",
        "conditions": [
            {"kind": "event", "name": "order_placed", "value": 1},
            {"kind": "event", "name": "order_placed", "in_last": "PT3S", "op": "eq", "value": 0},
        ],
    }

    await create_live_segment(client, auth, eventually, no_recent_order)

    async def entered() -> bool:
        await feed.read()
        return feed.of(customer["customer_id"]) == [("crm.segment.entered", 1)]

    await eventually(entered, timeout=20)
    event = next(e for e in feed.seen if e["subject"] == customer["customer_id"])
    assert event["data"]["cause_event_id"] is None


async def test_a_merge_moves_behaviour_to_the_survivor(
    client, auth, producer, eventually, feed, new_customer, customer_event
):
    survivor, merged = new_customer(), new_customer()
    order_id = f"order-{secrets.token_hex(4)}"
    for data in (survivor, merged):
        await send(producer, CRM_CUSTOMERS, customer_event(**data))
    await send(producer, CRM_CUSTOMERS, attributed(merged["customer_id"], order_id))
    await send(producer, CRM_ORDERS, placed(order_id, sku="A", at=datetime.now(UTC)))
    segment_id = await create_live_segment(
        client, auth, eventually, {"kind": "event", "name": "order_placed", "value": 1}
    )

    async def merged_entered() -> bool:
        await feed.read()
        return feed.of(merged["customer_id"]) == [("crm.segment.entered", 1)]

    await eventually(merged_entered)
    merge = CUSTOMER_MERGED.event(
        CUSTOMER_MERGED.model.model_validate(
            {
                "merge_id": f"merge-{order_id}",
                "survivor_id": survivor["customer_id"],
                "merged_id": merged["customer_id"],
                "merged_at": datetime.now(UTC),
            }
        ),
        source="test",
    )
    await send(producer, CRM_CUSTOMERS, merge)

    async def moved() -> bool:
        await feed.read()
        return feed.of(survivor["customer_id"]) == [("crm.segment.entered", 1)] and (
            "crm.segment.exited",
            2,
        ) in feed.of(merged["customer_id"])

    await eventually(moved)
    explained = await client.get(
        f"/v1/segments/{segment_id}/members/{merged['customer_id']}", headers=auth(MARKETER)
    )
    assert explained.json()["customer_id"] == survivor["customer_id"]
    assert explained.json()["member"] is True


async def test_preview_counts_and_samples_without_saving(
    client, auth, publish, eventually, new_customer, customer_event
):
    vip, other = new_customer(tags=["vip"]), new_customer(tags=["retail"])
    await publish(customer_event(**vip))
    await publish(customer_event(**other))
    definition = {"kind": "trait", "field": "tags", "op": "contains", "value": "vip"}

    async def previewed() -> bool:
        response = await client.post(
            "/v1/segments:preview", json={"definition": definition}, headers=auth("analyst")
        )
        assert response.status_code == 200, response.text
        return bool(
            response.json() == {"evaluated": 2, "matching": 1, "sample": [vip["customer_id"]]}
        )

    await eventually(previewed)
    assert (await client.get("/v1/segments", headers=auth("viewer"))).json() == []


async def test_a_bad_definition_is_a_problem_naming_the_json_path(client, auth):
    bad = {
        "kind": "and",
        "conditions": [
            {"kind": "trait", "field": "tags", "op": "contains", "value": "vip"},
            {"kind": "event", "name": "order_placed", "in_last": "soon", "value": 1},
        ],
    }
    response = await client.post(
        "/v1/segments", json={"name": "bad", "definition": bad}, headers=auth(MARKETER)
    )

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["definition.conditions.1.in_last"]


async def test_a_definition_naming_an_unknown_or_circular_segment_is_refused(
    client, auth, eventually
):
    unknown = {"kind": "not", "condition": {"kind": "segment", "segment_id": "nowhere"}}
    response = await client.post(
        "/v1/segments", json={"name": "bad", "definition": unknown}, headers=auth(MARKETER)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "definition.condition.segment_id"

    first = await create_live_segment(
        client, auth, eventually, {"kind": "trait", "field": "email", "op": "exists"}
    )
    second = await create_live_segment(
        client, auth, eventually, {"kind": "segment", "segment_id": first}
    )
    circular = {"kind": "or", "conditions": [{"kind": "segment", "segment_id": second}]}
    response = await client.patch(
        f"/v1/segments/{first}", json={"definition": circular}, headers=auth(MARKETER)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "definition.conditions.0.segment_id"

    assert (
        await client.delete(f"/v1/segments/{second}", headers=auth(MARKETER))
    ).status_code == 204
    assert (await client.get(f"/v1/segments/{second}", headers=auth(MARKETER))).status_code == 404
