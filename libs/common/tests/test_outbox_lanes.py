"""Outbox relay lanes, on real PostgreSQL: relays of several replicas publish side by side, every
event once, each key's events in commit order; a lane held by one relay is left to it."""

import asyncio
import json

import pytest
from crm_common import db
from crm_common.envelope import CloudEvent
from crm_common.outbox import OutboxEvent, OutboxRelay, add_event
from crm_common.testing.fakes import RecordingBroker
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

LANES = 4
RELAY_LOCK_ID = 7_354_022  # crm_common.outbox's


async def _stage(engine: AsyncEngine, keyed: list[tuple[str | None, int]]) -> None:
    """One transaction per event: their commit order is the order of `keyed`."""
    sessions = db.session_factory(engine)
    for key, number in keyed:
        async with db.transaction(sessions) as session:
            event = CloudEvent[int](source="test", type="test.thing.changed", data=number)
            add_event(session, topic="t", key=key, event=event)


def _sent(broker: RecordingBroker) -> list[tuple[str | None, int]]:
    """(key, number) of every event the relays sent, in the order sent."""
    return [
        (c.key.decode() if c.key is not None else None, json.loads(c.body)["data"])
        for c in broker.commands
    ]


async def _left(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def test_relays_of_two_replicas_share_the_lanes_and_keep_each_keys_order(
    engine: AsyncEngine, recording_broker: RecordingBroker
) -> None:
    keys = [f"customer-{n}" for n in range(12)] + [None]
    staged = [(keys[number % len(keys)], number) for number in range(130)]
    await _stage(engine, staged)
    replicas = [
        OutboxRelay(engine, recording_broker, batch_size=7, lanes=LANES)  # type: ignore[arg-type]
        for _ in range(2)
    ]

    async def drain(relay: OutboxRelay) -> int:
        sent = 0
        while await _left(engine):
            sent += await relay.relay_once()
        return sent

    counts = await asyncio.gather(*(drain(relay) for relay in replicas))

    sent = _sent(recording_broker)
    assert await _left(engine) == 0
    assert sorted(number for _, number in sent) == list(range(130))  # each once
    assert all(counts), counts  # both relays published
    for key in keys:
        assert [n for k, n in sent if k == key] == [n for k, n in staged if k == key]


async def test_a_lane_another_relay_holds_is_left_to_it(
    engine: AsyncEngine, recording_broker: RecordingBroker
) -> None:
    await _stage(engine, [(f"k-{n}", n) for n in range(40)])
    held = 0
    relay = OutboxRelay(engine, recording_broker, lanes=LANES)  # type: ignore[arg-type]
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f"SELECT key, abs(hashtext(key) % {LANES}) FROM outbox_events")
        )
        lane_of: dict[str, int] = dict(rows.all())  # type: ignore[arg-type]
        in_held = sum(1 for lane in lane_of.values() if lane == held)
        assert 0 < in_held < 40  # the keys spread over the lanes
        # As another replica's relay would, mid-batch.
        await connection.execute(text(f"SELECT pg_advisory_lock({RELAY_LOCK_ID}, {held})"))

        sent = await relay.relay_once()

        assert sent == 40 - in_held
        sent_lanes = {lane_of[str(key)] for key, _ in _sent(recording_broker)}
        assert sent_lanes == set(range(LANES)) - {held}
        assert await _left(engine) == in_held
        await connection.execute(text(f"SELECT pg_advisory_unlock({RELAY_LOCK_ID}, {held})"))

    assert await relay.relay_once() == in_held
    assert await _left(engine) == 0


def test_a_relay_needs_a_lane() -> None:
    with pytest.raises(ValueError, match="at least one lane"):
        OutboxRelay(None, None, lanes=0)  # type: ignore[arg-type]
