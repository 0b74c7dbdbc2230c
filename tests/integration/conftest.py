"""The black-box suite: the five services running as processes on real infrastructure.

`make test` starts the infrastructure; this starts the services (reusing running ones) with
`deploy/local/services.sh up`, then talks to them only over HTTP and Kafka, as users do.
"""

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from crm_common.auth import issue_token

from .spans import SpanReceiver

ROOT = Path(__file__).resolve().parents[2]
PORTS = {
    "order-sync": 8001,
    "customer-profile": 8002,
    "campaign": 8003,
    "support-ticket": 8004,
    "analytics": 8005,
}


# Not OTLP's 4318, where a developer's own collector may listen.
SPAN_RECEIVER_PORT = 14318


@pytest.fixture(scope="session")
def span_receiver() -> Iterator[SpanReceiver]:
    """Receives the spans every service exports (services.sh points them here)."""
    receiver = SpanReceiver(SPAN_RECEIVER_PORT)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def services_running(span_receiver: SpanReceiver) -> Iterator[None]:
    """The five services; started here (and stopped afterwards) unless all already run."""
    script = ROOT / "deploy/local/services.sh"
    status = subprocess.run([script, "status"], check=True, capture_output=True, text=True)
    already_running = "stopped" not in status.stdout
    # In the environment rather than this call alone: a drill restarting a service it killed
    # runs services.sh too.
    os.environ["OTLP_ENDPOINT"] = span_receiver.endpoint
    subprocess.run([script, "up"], check=True, timeout=300)
    yield
    if not already_running:
        subprocess.run([script, "down"], check=True, timeout=60)


@pytest.fixture(scope="session")
def dev_private_key(services_running: None) -> str:
    return (ROOT / ".local/jwt/dev-signing-key.pem").read_text()


@pytest.fixture(scope="session")
def token(dev_private_key: str) -> "TokenFactory":
    return TokenFactory(dev_private_key)


class TokenFactory:
    def __init__(self, private_key: str) -> None:
        self._private_key = private_key

    def headers(self, *roles: str) -> dict[str, str]:
        token = issue_token(self._private_key, subject="integration-test", roles=list(roles))
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def http(services_running: None) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    clients = {
        name: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
        for name, port in PORTS.items()
    }
    yield clients
    for client in clients.values():
        await client.aclose()


@pytest.fixture
async def shop_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


DEADLINE_SECONDS = 60


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, what: str, timeout: float = DEADLINE_SECONDS
) -> Any:
    """Poll `probe` until it returns something truthy, failing after `timeout` seconds."""
    last: Any = None
    try:
        async with asyncio.timeout(timeout):
            while not (last := await probe()):
                await asyncio.sleep(0.25)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}; last answer: {last!r}")
    return last


def canonical_order(store_id: str, external_id: str, **overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "store_id": store_id,
        "external_id": external_id,
        "placed_at": "2026-11-01T10:00:00Z",
        "updated_at": "2026-11-01T10:05:00Z",
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": "unfulfilled",
        "cancelled_at": None,
        "customer": {"external_id": "c-1", "first_name": "Ann", "last_name": "Lee"},
        "lines": [{"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"}],
        "discount_total": "0.00",
        "shipping_total": "5.00",
        "tax_total": "2.00",
        "total": "32.00",
    }
    order.update(overrides)
    return order


@pytest.fixture
def store_id() -> str:
    return f"it-{secrets.token_hex(4)}"


async def register_store(
    http: dict[str, httpx.AsyncClient], token: TokenFactory, store_id: str
) -> None:
    response = await http["order-sync"].post(
        "/v1/stores",
        json={
            "store_id": store_id,
            "platform": "custom",
            "name": "Integration shop",
            "currency": "USD",
            "country": "US",
        },
        headers=token.headers("admin"),
    )
    assert response.status_code == 201, response.text
