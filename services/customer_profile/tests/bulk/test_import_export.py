"""Importing contacts and exporting customers through the running service (real Kafka and
PostgreSQL)."""

import asyncio
import contextlib
import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.testing.plugin import create_database, drop_database, unique_topic
from crm_events.registry import CONTRACTS
from customer_profile.config import Settings
from customer_profile.main import create_app
from fastapi import FastAPI
from sqlalchemy import text

pytestmark = pytest.mark.integration

CSV_COLUMNS = [
    "email",
    "phone",
    "first_name",
    "last_name",
    "store_id",
    "external_id",
    "accepts_marketing",
    "tags",
    "traits",
]


@dataclass
class Collector:
    records: list[Any] = field(default_factory=list)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        found = [json.loads(record.value) for record in self.records]
        return [event for event in found if event["type"] == event_type]


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    customers: Collector

    async def sql(self, query: str, **params: Any) -> list[Any]:
        async with self.app.state.runtime.engine.connect() as connection:
            return list((await connection.execute(text(query), params)).all())


@contextlib.asynccontextmanager
async def running_service(
    database_url: str, kafka: str, public_key: str, headers: dict[str, str]
) -> AsyncIterator[Running]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka,
        jwt_public_key=public_key,
        orders_topic=unique_topic("test.crm.orders"),
        customers_topic=unique_topic("test.crm.customers"),
        activity_topic=unique_topic("test.shop.activity"),
        messages_topic=unique_topic("test.crm.messages"),
        tickets_topic=unique_topic("test.crm.tickets"),
        consumer_group=f"test-customer-profile-{secrets.token_hex(4)}",
        kafka_topic_partitions=1,
        outbox_poll_interval_seconds=0.1,
        scoring_nightly=False,
    )
    app = create_app(settings)
    consumer = AIOKafkaConsumer(
        settings.customers_topic, bootstrap_servers=kafka, auto_offset_reset="earliest"
    )
    collector = Collector()

    async def pump() -> None:
        async for record in consumer:
            collector.records.append(record)

    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://customer-profile", headers=headers
        ) as client,
    ):
        await consumer.start()
        task = asyncio.create_task(pump())
        try:
            yield Running(app, client, settings, collector)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()


@pytest.fixture
async def service(fresh_database, kafka_bootstrap, jwt_keys, auth) -> AsyncIterator[Running]:
    async with running_service(
        fresh_database, kafka_bootstrap, jwt_keys[1], auth("admin")
    ) as running:
        yield running


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def contacts(count: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`count` CSV rows: distinct people, duplicates, people joined by a later row, and bad
    rows; returns them and what importing them must give."""
    rows: list[dict[str, Any]] = []
    bad = duplicates = joins = 0
    people = 0
    while len(rows) < count:
        n = len(rows)
        if n % 40 == 7:
            # Bad: an invalid email, a reference without its store, only placeholder values.
            rows.append(
                [
                    {"email": f"broken{n}@", "first_name": "X"},
                    {"email": f"ok{n}@example.com", "external_id": f"c-{n}"},
                    {"email": "test@test.com", "external_id": "0", "store_id": "demo"},
                ][bad % 3]
            )
            bad += 1
        elif n % 40 == 19 and people:
            # The same person again, the email in another case: nothing new.
            person = n - 2
            rows.append({**rows[person], "email": rows[person]["email"].upper()})
            duplicates += 1
        elif n % 40 == 29 and len(rows) + 3 <= count:
            # One row by phone, one by email, then one with both: they merge.
            phone = f"+1 415 3{joins:02d} 7{joins:03d}"
            email = f"joined{joins}@example.com"
            rows += [
                {"phone": phone, "first_name": "Jo"},
                {"email": email, "last_name": "Join"},
                {"email": email, "phone": phone},
            ]
            joins += 1
            people += 1
        else:
            rows.append(
                {
                    "email": f"Person{n}@Example.com",
                    "phone": f"+1 212 4{n // 1000:02d} {n % 1000:03d}1",
                    "first_name": f" First{n} ",
                    "last_name": f"Last{n}",
                    "store_id": "demo",
                    "external_id": str(9_007_199_254_740_993 + n),
                    "accepts_marketing": "yes" if n % 2 else "",
                    "tags": "vip, imported" if n % 3 == 0 else "",
                    "traits": json.dumps({"n": n}) if n % 5 == 0 else "",
                }
            )
            people += 1
    expected = {
        "rows": len(rows),
        "failed": bad,
        "customers": people,
        "created": people + joins,
        "merges": joins,
        "duplicates": duplicates,
    }
    return rows, expected


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_importing_two_thousand_contacts(service: Running) -> None:
    rows, expected = contacts(2000)

    response = await service.client.post(
        "/v1/customers:import", content=as_csv(rows), headers={"content-type": "text/csv"}
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows"] == expected["rows"]
    assert report["failed"] == expected["failed"]
    assert report["created"] == expected["created"]
    assert report["merges"] == expected["merges"]
    assert report["linked"] == expected["merges"]
    assert report["unchanged"] == expected["duplicates"]
    assert report["created"] + report["updated"] + report["linked"] + report["unchanged"] == (
        report["rows"] - report["failed"]
    )
    assert {(e["field"], e["reason"][:20]) for e in report["errors"]} == {
        ("email", "not a valid email ad"),
        ("store_id", "store_id and externa"),
        ("identity", "no usable identity: "),
    }
    assert len(report["errors"]) == expected["failed"]
    [[count]] = await service.sql(
        "SELECT count(*) FROM customers WHERE merged_into IS NULL AND orders_count = 0"
    )
    assert count == expected["customers"]

    found = await service.client.get("/v1/customers", params={"email": "person0@example.com"})
    [person] = found.json()["items"]
    assert (person["first_name"], person["last_name"]) == ("First0", "Last0")
    assert person["phone"] == "+12124000001"
    assert {(i["kind"], i["value"], i["store_id"]) for i in person["identities"]} == {
        ("email", "person0@example.com", None),
        ("phone", "+12124000001", None),
        ("store_ref", "9007199254740993", "demo"),
    }
    profile = (await service.client.get(f"/v1/customers/{person['customer_id']}")).json()
    assert profile["lifecycle_stage"] == "prospect"
    assert profile["tags"] == ["imported", "vip"]
    joined = await service.client.get("/v1/customers", params={"phone": "+1 415 300 7000"})
    [joined_customer] = joined.json()["items"]
    assert joined_customer["email"] == "joined0@example.com"
    assert (joined_customer["first_name"], joined_customer["last_name"]) == ("Jo", "Join")

    async def announced() -> bool:
        created = service.customers.events("crm.customer.created")
        return len(created) == expected["created"]

    await _eventually(announced)
    for event in service.customers.events("crm.customer.merged")[:3]:
        CONTRACTS.validate(event)
    consents = service.customers.events("crm.customer.consent_changed")
    assert consents
    assert {e["data"]["source"] for e in consents} == {"import"}


@pytest.mark.timeout(300)
async def test_export_round_trip(
    service: Running, postgres_url: str, kafka_bootstrap: str, jwt_keys, auth
) -> None:
    rows, _ = contacts(120)
    rows.append(
        {"email": "other@example.com", "store_id": "elsewhere", "external_id": "e-1", "tags": "x"}
    )
    imported = await service.client.post(
        "/v1/customers:import", content=as_csv(rows), headers={"content-type": "text/csv"}
    )
    assert imported.status_code == 200

    exported = await service.client.get("/v1/customers:export")

    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    [[customers]] = await service.sql("SELECT count(*) FROM customers WHERE merged_into IS NULL")
    assert len(lines) == customers
    assert [line["customer_id"] for line in lines] == sorted(line["customer_id"] for line in lines)
    by_email = {line["email"]: line for line in lines}
    person = by_email["person0@example.com"]
    assert person["traits"] == {"n": 0}
    assert person["tags"] == ["imported", "vip"]
    assert person["stats"]["orders_count"] == 0
    assert by_email["person1@example.com"]["consents"][0]["status"] == "granted"
    assert {i["kind"] for i in person["identities"]} == {"email", "phone", "store_ref"}
    # Every customer exported is audited, none of them read unnoticed.
    [[audited]] = await service.sql(
        "SELECT count(DISTINCT customer_id) FROM audit_log WHERE action = 'customers.export'"
    )
    assert audited == customers

    of_store = await service.client.get("/v1/customers:export", params={"store_id": "elsewhere"})
    assert [json.loads(line)["email"] for line in of_store.text.splitlines()] == [
        "other@example.com"
    ]
    forbidden = await service.client.get("/v1/customers:export", headers=auth("marketer"))
    assert forbidden.status_code == 403

    # The export imports again: into the same database it changes nothing, into an empty one
    # it gives the same customers.
    again = await service.client.post(
        "/v1/customers:import",
        content=exported.content,
        headers={"content-type": "application/x-ndjson"},
    )
    assert again.json()["unchanged"] == customers
    url = await create_database(postgres_url, "test_round_trip")
    try:
        async with running_service(url, kafka_bootstrap, jwt_keys[1], auth("admin")) as fresh:
            into_fresh = await fresh.client.post(
                "/v1/customers:import",
                content=exported.content,
                headers={"content-type": "application/x-ndjson"},
            )
            assert into_fresh.json()["created"] == customers
            second = await fresh.client.get("/v1/customers:export")
    finally:
        await drop_database(postgres_url, url)
    assert _comparable(second.text) == _comparable(exported.text)


def _comparable(ndjson: str) -> list[dict[str, Any]]:
    """The export without what belongs to one database: ids, times, consent sources."""
    lines = []
    for line in ndjson.splitlines():
        item = json.loads(line)
        for name in ("customer_id", "created_at", "updated_at", "version"):
            del item[name]
        item["identities"] = sorted(
            (i["kind"], i["value"], i["store_id"]) for i in item["identities"]
        )
        item["consents"] = [(c["channel"], c["purpose"], c["status"]) for c in item["consents"]]
        lines.append(item)
    return sorted(lines, key=lambda item: json.dumps(item, sort_keys=True))


async def test_an_import_in_another_format_or_unreadable_is_refused(service: Running) -> None:
    wrong_type = await service.client.post(
        "/v1/customers:import", content=b"{}", headers={"content-type": "application/json"}
    )
    assert wrong_type.status_code == 415
    latin1 = "email\nzoë@example.com\n".encode("latin-1")
    not_utf8 = await service.client.post(
        "/v1/customers:import", content=latin1, headers={"content-type": "text/csv"}
    )
    assert not_utf8.status_code == 422
    assert not_utf8.json()["errors"][0]["field"] == "body"
    [[count]] = await service.sql("SELECT count(*) FROM customers")
    assert count == 0


async def _eventually(check: Any, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.2)
