"""Outbox payloads sealed at rest: stored sealed, published opened, rows in clear still relayed,
and nothing changed for a service without a sealer."""

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from crm_common import db
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import create_broker, ensure_topics
from crm_common.outbox import OutboxEvent, OutboxRelay, add_event, seal_payloads
from crm_common.testing.fakes import RecordingBroker
from crm_common.testing.plugin import unique_topic
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30


class Reversing:
    """A stand-in sealer: a marker byte, then the payload reversed."""

    def seal(self, payload: bytes) -> bytes:
        return b"\x00" + payload[::-1]

    def open(self, stored: bytes) -> bytes:
        if stored.startswith(b"{"):
            return stored
        if not stored.startswith(b"\x00"):
            raise ValueError("not sealed by this sealer")
        return stored[:0:-1]


def _event(number: int) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](
        source="test", type="test.person.changed", data={"n": number, "email": f"p{number}@x.io"}
    )


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> list[bytes]:
    async with sessions() as session:
        return list(
            (await session.execute(select(OutboxEvent.payload).order_by(OutboxEvent.seq)))  # type: ignore[arg-type]
            .scalars()
            .all()
        )


async def _stage(sessions: async_sessionmaker[AsyncSession], events: list[Any]) -> None:
    async with db.transaction(sessions) as session:
        for item in events:
            add_event(session, topic="t", key="k", event=item)


async def test_sealed_rows_are_published_opened_and_rows_in_clear_as_they_are(
    engine: AsyncEngine, kafka_bootstrap: str
) -> None:
    topic = unique_topic("test.outbox.sealed")
    await ensure_topics(kafka_bootstrap, [topic], partitions=1)
    sealer = Reversing()
    sealing = db.session_factory(engine)
    seal_payloads(sealing, sealer)
    # A factory of its own stays unsealed: rows as a release before sealing wrote them.
    plain = db.session_factory(engine)
    events = [_event(n) for n in range(4)]
    async with db.transaction(plain) as session:
        add_event(session, topic=topic, key="k", event=events[0])
    async with db.transaction(sealing) as session:
        for item in events[1:]:
            add_event(session, topic=topic, key="k", event=item)

    staged = [to_json_bytes(e) for e in events]
    stored = await _stored(plain)
    assert stored[0] == staged[0]
    assert stored[1:] == [sealer.seal(payload) for payload in staged[1:]]
    assert not any(b"@x.io" in payload for payload in stored[1:])

    broker = create_broker(kafka_bootstrap, client_id="test-relay", registry=CollectorRegistry())
    await broker.start()
    relay = OutboxRelay(engine, broker, poll_interval=0.1, sealer=sealer)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Any] = []
    try:
        assert await relay.relay_once() == len(events)
        while len(records) < len(events):
            batch = await consumer.getmany(timeout_ms=DEADLINE_SECONDS * 1000)
            assert batch, "the relayed events never arrived"
            records += [record for part in batch.values() for record in part]
    finally:
        await consumer.stop()
        await broker.stop()

    assert [record.value for record in records] == staged
    assert [json.loads(record.value)["id"] for record in records] == [e.id for e in events]
    assert await _stored(plain) == []


async def test_without_a_sealer_the_staged_bytes_are_stored_and_sent_unchanged(
    engine: AsyncEngine, recording_broker: RecordingBroker
) -> None:
    sessions = db.session_factory(engine)
    events = [_event(n) for n in range(3)]
    await _stage(sessions, events)
    assert await _stored(sessions) == [to_json_bytes(e) for e in events]

    assert await OutboxRelay(engine, recording_broker).relay_once() == 3  # type: ignore[arg-type]
    assert recording_broker.sent == [to_json_bytes(e) for e in events]


async def test_a_row_that_cannot_be_opened_fails_its_batch_before_anything_is_sent(
    engine: AsyncEngine, recording_broker: RecordingBroker
) -> None:
    sessions = db.session_factory(engine)
    seal_payloads(sessions, Reversing())
    await _stage(sessions, [_event(1)])
    async with db.transaction(sessions) as session:
        session.add(OutboxEvent(event_id="broken", topic="t", payload=b"\x01not ours"))
    await _stage(sessions, [_event(2)])

    relay = OutboxRelay(engine, recording_broker, sealer=Reversing())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not sealed by this sealer"):
        await relay.relay_once()
    # Published again at every retry otherwise: the first row would flood its topic.
    assert recording_broker.sent == []
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 3
