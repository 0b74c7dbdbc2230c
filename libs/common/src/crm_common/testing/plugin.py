"""pytest plugin: real Kafka, PostgreSQL and MongoDB endpoints for integration tests.

Endpoints come from `KAFKA_BOOTSTRAP_SERVERS`, `POSTGRES_URL` and `MONGODB_URL` (which
`make test` sets after starting the local infrastructure). When one is unset and a Docker
engine answers, a testcontainers container provides it instead.
"""

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair

_ENV = {
    "kafka": "KAFKA_BOOTSTRAP_SERVERS",
    "postgres": "POSTGRES_URL",
    "mongodb": "MONGODB_URL",
}


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


def _container_endpoint(kind: str) -> tuple[str, Any]:
    if kind == "kafka":
        from testcontainers.kafka import KafkaContainer

        kafka = KafkaContainer("apache/kafka:4.1.0").with_kraft()
        kafka.start()
        return kafka.get_bootstrap_server(), kafka
    if kind == "postgres":
        from testcontainers.postgres import PostgresContainer

        postgres = PostgresContainer("postgres:15", username="crm", password="crm", driver=None)
        postgres.start()
        return postgres.get_connection_url(), postgres
    from testcontainers.mongodb import MongoDbContainer

    mongo = MongoDbContainer("mongo:7")
    mongo.start()
    return mongo.get_connection_url(), mongo


@pytest.fixture(scope="session")
def infra_endpoints() -> Iterator[dict[str, str]]:
    """Every endpoint, started in containers only for the ones the environment lacks."""
    endpoints: dict[str, str] = {}
    containers: list[Any] = []
    missing = [kind for kind, var in _ENV.items() if not os.environ.get(var)]
    if missing and not _docker_available():
        pytest.fail(
            f"no endpoint for {', '.join(missing)}: run the tests through `make test`, which "
            f"starts the local infrastructure, or set {', '.join(_ENV[k] for k in missing)}"
        )
    for kind, var in _ENV.items():
        if os.environ.get(var):
            endpoints[kind] = os.environ[var]
        else:
            endpoints[kind], container = _container_endpoint(kind)
            containers.append(container)
    yield endpoints
    for container in containers:
        container.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(infra_endpoints: dict[str, str]) -> str:
    return infra_endpoints["kafka"]


@pytest.fixture(scope="session")
def mongodb_url(infra_endpoints: dict[str, str]) -> str:
    return infra_endpoints["mongodb"]


@pytest.fixture(scope="session")
def postgres_url(infra_endpoints: dict[str, str]) -> str:
    return infra_endpoints["postgres"]


def database_url(server_url: str, database: str) -> str:
    """`server_url` (with or without a database) pointed at `database`."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_database(server_url: str, prefix: str) -> str:
    """A new empty database; returns its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return database_url(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
async def fresh_database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own for one test, dropped afterwards."""
    url = await create_database(postgres_url, "test")
    yield url
    await drop_database(postgres_url, url)


@pytest.fixture(scope="session")
def jwt_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(private PEM, public PEM) of a key pair made for this test session."""
    private_path, public_path = ensure_key_pair(Path(tmp_path_factory.mktemp("jwt")))
    return private_path.read_text(), public_path.read_text()


def unique_topic(prefix: str) -> str:
    return f"{prefix}.{secrets.token_hex(4)}"


Auth = Callable[..., dict[str, str]]
Poll = Callable[..., Awaitable[None]]
Records = list[ConsumerRecord[bytes, bytes]]
ReadTopic = Callable[..., Awaitable[Records]]


@pytest.fixture
def auth(jwt_keys: tuple[str, str]) -> Auth:
    """`auth("marketer")`: request headers with a bearer token holding those roles."""

    def headers(*roles: str) -> dict[str, str]:
        token = issue_token(jwt_keys[0], subject="tester@example.com", roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain Kafka producer, for tests that play a shop or another service."""
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
def eventually() -> Poll:
    """`await eventually(check)`: await `check()` until it is true, failing after a deadline
    (never a fixed sleep)."""

    async def poll(check: Callable[[], Awaitable[bool]], timeout: float = 45.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await check():
            if loop.time() > deadline:
                pytest.fail(f"condition not met within {timeout}s")
            await asyncio.sleep(0.1)

    return poll


@pytest.fixture
def read_topic(kafka_bootstrap: str) -> ReadTopic:
    """`await read_topic(topic, until)`: read `topic` from the beginning until `until(records)`
    holds, or fail at the deadline."""

    async def read(
        topic: str, until: Callable[[Records], bool], *, timeout: float = 45.0
    ) -> Records:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        records: Records = []
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while not until(records):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{topic}: condition unmet after {timeout}s: {records}")
                batch = await consumer.getmany(timeout_ms=300)
                for partition_records in batch.values():
                    records.extend(partition_records)
        finally:
            await consumer.stop()
        return records

    return read
