"""The black-box suite: the five services running as processes on real infrastructure.

`make test` starts the infrastructure; this starts the services (reusing running ones) with
`deploy/local/services.sh up`, then talks to them only over HTTP and Kafka, as users do.
"""

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from crm_common.auth import issue_token

ROOT = Path(__file__).resolve().parents[2]
PORTS = {
    "order-sync": 8001,
    "customer-profile": 8002,
    "campaign": 8003,
    "support-ticket": 8004,
    "analytics": 8005,
}


@pytest.fixture(scope="session")
def services_running() -> Iterator[None]:
    """The five services; started here (and stopped afterwards) unless all already run."""
    script = ROOT / "deploy/local/services.sh"
    status = subprocess.run([script, "status"], check=True, capture_output=True, text=True)
    already_running = "stopped" not in status.stdout
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
