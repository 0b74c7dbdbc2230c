"""SASL/SCRAM-SHA-512 over TLS against the local broker's SASL_SSL listener (made by
`deploy/local/infra.sh` with a throwaway CA): a service with its user and the CA reaches it,
anyone else is turned away, and a user may do only what an ACL grants it."""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import KafkaSecurity, create_broker, ensure_topics, subscribe
from crm_common.testing.plugin import unique_topic
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str
    cafile: str
    users: Path

    def security(self, user: str, *, password: str | None = None) -> KafkaSecurity:
        password = password or (self.users / user).read_text().strip()
        return KafkaSecurity(username=user, password=password, cafile=self.cafile)


@pytest.fixture(scope="module")
def secure_broker() -> SecureBroker:
    names = ("KAFKA_SASL_BOOTSTRAP_SERVERS", "KAFKA_SSL_CAFILE", "KAFKA_USERS_DIR")
    if not all(os.environ.get(name) for name in names):
        mode = ROOT / ".local/infra.mode"
        if mode.exists() and mode.read_text().strip() == "docker":
            pytest.skip("the broker docker compose starts has no SASL_SSL listener")
        pytest.fail(f"run through `make test`, which sets {', '.join(names)}")
    return SecureBroker(os.environ[names[0]], os.environ[names[1]], Path(os.environ[names[2]]))


async def test_a_service_publishes_and_consumes_with_scram_over_tls(
    secure_broker: SecureBroker,
) -> None:
    security = secure_broker.security("admin")
    topic = unique_topic("test.secure")
    await ensure_topics(secure_broker.bootstrap, [topic], partitions=1, security=security)
    received: asyncio.Queue[CloudEvent[dict[str, Any]]] = asyncio.Queue()

    async def handle(event: CloudEvent[dict[str, Any]]) -> None:
        await received.put(event)

    broker = create_broker(
        secure_broker.bootstrap,
        client_id="test-secure",
        registry=CollectorRegistry(),
        security=security,
    )
    subscribe(broker, topic, group_id=unique_topic("g"), handler=handle)
    await broker.start()
    try:
        sent = CloudEvent[dict[str, Any]](source="test", type="test.thing.happened", data={"n": 1})
        await broker.publish(to_json_bytes(sent), topic, key=b"k")
        async with asyncio.timeout(30):
            got = await received.get()
    finally:
        await broker.stop()
    assert got.id == sent.id


@pytest.mark.parametrize(
    ("user", "password", "trusted", "reason"),
    [
        ("admin", "not-the-password", True, "invalid credentials"),
        ("nobody", "whatever", True, "invalid credentials"),
        ("admin", None, False, "CERTIFICATE_VERIFY_FAILED"),
    ],
    ids=["wrong password", "unknown user", "untrusted certificate"],
)
async def test_anyone_else_is_turned_away(
    secure_broker: SecureBroker,
    caplog: pytest.LogCaptureFixture,
    user: str,
    password: str | None,
    trusted: bool,
    reason: str,
) -> None:
    security = secure_broker.security(user, password=password)
    if not trusted:
        # The system's CAs, which never signed the throwaway broker certificate.
        security = KafkaSecurity(username=user, password=security.password, cafile=None)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=secure_broker.bootstrap,
        request_timeout_ms=5000,
        **security.client_options(),
    )

    async def connect() -> None:
        async with asyncio.timeout(20):
            await admin.start()
            await admin.list_topics()

    with pytest.raises(KafkaConnectionError):
        await connect()
    await admin.close()
    assert reason in caplog.text


async def test_a_user_may_do_only_what_an_acl_grants_it(secure_broker: SecureBroker) -> None:
    topic = unique_topic("test.secure.acl")
    await ensure_topics(
        secure_broker.bootstrap, [topic], partitions=1, security=secure_broker.security("admin")
    )
    # A service's user, granted nothing on this test's topic.
    producer = AIOKafkaProducer(
        bootstrap_servers=secure_broker.bootstrap,
        **secure_broker.security("analytics").client_options(),
    )
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            async with asyncio.timeout(20):
                await producer.send_and_wait(topic, b"{}")
    finally:
        await producer.stop()
