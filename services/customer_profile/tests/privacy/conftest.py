"""The running service for the privacy tests, and a scan of the whole database for values."""

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.testing.migrations import service_metadata
from crm_common.testing.plugin import unique_topic
from customer_profile import pii
from customer_profile.config import Settings
from customer_profile.main import create_app
from fastapi import FastAPI
from sqlalchemy import select, text, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

# Every column type that can hold text, including JSON, binary payloads and arrays.
_TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "ARRAY", "USER-DEFINED")

Scan = Callable[..., Awaitable[list[str]]]


async def personal_data_left(
    session: AsyncSession, values: list[str], *, decrypt: bool = True
) -> list[str]:
    """`table.column: value` for every column of every table in the database's schema that
    holds one of `values` anywhere in its text (case-insensitively); found through
    information_schema, so a table added later is scanned too. With `decrypt`, the ciphertexts
    of every encrypted column the models declare, and the events sealed in the outbox, are
    opened and searched as well (`table.column (decrypted): value`): erasure must delete them,
    not just leave them unreadable without the key."""
    found = await _plain_hits(session, values)
    if decrypt:
        found += await _decrypted_hits(session, values)
    return found


async def _decrypted_hits(session: AsyncSession, values: list[str]) -> list[str]:
    opened: dict[str, list[str]] = {}
    for table in service_metadata("customer_profile").sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, pii.EncryptedText | pii.EncryptedJSON):
                continue
            purpose = column.type.purpose
            raw = column.type.impl_instance
            stored = await session.scalars(
                select(type_coerce(column, raw)).where(column.is_not(None))
            )
            opened[f"{table.name}.{column.name}"] = [
                pii.keyring().decrypt(purpose, bytes(blob)).decode() for blob in stored
            ]
    sealer = pii.OutboxSealer(pii.keyring())
    events = await session.scalars(text("SELECT payload FROM outbox_events"))
    opened["outbox_events.payload"] = [sealer.open(bytes(blob)).decode() for blob in events]
    return [
        f"{name} (decrypted): {value}"
        for name, texts in opened.items()
        for value in values
        if any(value.lower() in plain.lower() for plain in texts)
    ]


async def _plain_hits(session: AsyncSession, values: list[str]) -> list[str]:
    columns = (
        await session.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() "
                "AND (data_type = ANY(:types) OR data_type = 'bytea')"
            ),
            {"types": list(_TEXT_TYPES)},
        )
    ).all()
    assert columns, "the scan found no column to look at"
    found = []
    for table, column, data_type in columns:
        as_text = f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
        for value in values:
            hits = await session.scalar(
                text(
                    f'SELECT count(*) FROM "{table}" '
                    f"WHERE position(lower(:value) in lower({as_text})) > 0"
                ),
                {"value": value},
            )
            if hits:
                found.append(f"{table}.{column}: {value}")
    return found


@pytest.fixture
def scan() -> Scan:
    return personal_data_left


@dataclass
class Collector:
    """Every record of one topic, read from the beginning in the background."""

    records: list[Any] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in self.records]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]


@contextlib.asynccontextmanager
async def collecting(bootstrap: str, topic: str) -> AsyncIterator[Collector]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    collector = Collector()

    async def pump() -> None:
        async for record in consumer:
            collector.records.append(record)

    task = asyncio.create_task(pump())
    try:
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    customers: Collector

    async def publish(self, event: CloudEvent[Any], *, key: str) -> None:
        broker = self.app.state.runtime.broker
        await broker.publish(to_json_bytes(event), self.settings.orders_topic, key=key.encode())


@pytest.fixture
def service_settings(
    fresh_database: str, kafka_bootstrap: str, jwt_keys: tuple[str, str]
) -> Settings:
    return Settings(
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


@pytest.fixture
async def service(service_settings: Settings) -> AsyncIterator[Service]:
    """customer-profile on its own database and topics; the client sends no token by itself."""
    app = create_app(service_settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://customer-profile"
        ) as client,
        collecting(
            service_settings.kafka_bootstrap_servers, service_settings.customers_topic
        ) as customers,
    ):
        yield Service(app, client, service_settings, customers)
