"""Batched consumption on FastStream's in-memory broker: rejections, retries, isolation."""

import secrets
from collections.abc import Sequence
from typing import Any

import pytest
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import (
    PermanentEventError,
    Rejections,
    create_broker,
    dlq_topic,
    subscribe_batch,
)
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from prometheus_client import REGISTRY, CollectorRegistry

Event = CloudEvent[dict[str, Any]]


def _event(number: int) -> Event:
    return Event(source="test", type="test.thing.happened", subject=str(number), data={"n": number})


def _numbers(events: Sequence[Event]) -> list[int]:
    return [event.data["n"] for event in events]


class Harness:
    """A broker with one batch subscription on a topic of its own and a dead-letter collector."""

    def __init__(self) -> None:
        self.topic = f"test.batch.{secrets.token_hex(4)}"
        # A registry per broker: FastStream's Prometheus middleware registers its metrics once.
        self.broker: KafkaBroker = create_broker(
            "127.0.0.1:1", client_id="test-batch", registry=CollectorRegistry()
        )
        self.dead: list[tuple[bytes, dict[str, str]]] = []

        @self.broker.subscriber(dlq_topic(self.topic))
        async def collect(message: KafkaMessage) -> None:
            self.dead.append((message.body, dict(message.headers)))

    def reasons(self) -> list[str]:
        return [headers["x-dlq-reason"] for _, headers in self.dead]

    def count(self, outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "crm_consumer_events_total", {"topic": self.topic, "outcome": outcome}
        )
        return value or 0.0

    async def run(self, *bodies: bytes) -> None:
        async with TestKafkaBroker(self.broker) as broker:
            await broker.publish_batch(*bodies, topic=self.topic)


async def test_the_handler_gets_the_valid_events_of_a_batch_in_order() -> None:
    harness = Harness()
    batches: list[list[int]] = []

    async def handler(events: Sequence[Event]) -> None:
        batches.append(_numbers(events))

    subscribe_batch(harness.broker, harness.topic, group_id="g", handler=handler)
    await harness.run(
        to_json_bytes(_event(1)), b"{not json", to_json_bytes(_event(2)), to_json_bytes(_event(3))
    )

    assert batches == [[1, 2, 3]]
    assert [body for body, _ in harness.dead] == [b"{not json"]
    assert "invalid envelope" in harness.reasons()[0]
    assert harness.dead[0][1]["x-dlq-source-topic"] == harness.topic
    assert harness.dead[0][1]["x-dlq-consumer-group"] == "g"
    assert (harness.count("applied"), harness.count("dead_lettered")) == (3, 1)


async def test_rejected_events_are_dead_lettered_with_their_reason_and_the_rest_applied() -> None:
    harness = Harness()
    calls: list[list[int]] = []

    async def handler(events: Sequence[Event]) -> Rejections:
        calls.append(_numbers(events))
        return {
            position: PermanentEventError(f"{event.data['n']} is odd")
            for position, event in enumerate(events)
            if event.data["n"] % 2
        }

    subscribe_batch(harness.broker, harness.topic, group_id="g", handler=handler)
    events = [_event(n) for n in range(1, 6)]
    await harness.run(*(to_json_bytes(event) for event in events))

    assert calls == [[1, 2, 3, 4, 5]]  # no retry: rejecting is a verdict, not a failure
    assert [body for body, _ in harness.dead] == [to_json_bytes(events[n]) for n in (0, 2, 4)]
    assert harness.reasons() == [
        f"test.thing.happened {events[n].id}: {n + 1} is odd" for n in (0, 2, 4)
    ]
    assert {headers["x-dlq-error"] for _, headers in harness.dead} == {"PermanentEventError"}
    assert (harness.count("applied"), harness.count("dead_lettered")) == (2, 3)


async def test_dead_letters_keep_the_order_of_the_records() -> None:
    harness = Harness()

    async def handler(events: Sequence[Event]) -> Rejections:
        return {position: PermanentEventError("refused") for position in range(len(events))}

    subscribe_batch(harness.broker, harness.topic, group_id="g", handler=handler)
    await harness.run(to_json_bytes(_event(1)), b"{not json", to_json_bytes(_event(2)), b"[]")

    assert [body[:9] for body, _ in harness.dead] == [
        to_json_bytes(_event(1))[:9],
        b"{not json",
        to_json_bytes(_event(2))[:9],
        b"[]",
    ]
    assert ["refused" in reason for reason in harness.reasons()] == [True, False, True, False]


async def test_a_failing_batch_is_retried_then_applied_one_at_a_time_around_the_poison() -> None:
    harness = Harness()
    calls: list[list[int]] = []
    applied: list[int] = []

    async def handler(events: Sequence[Event]) -> None:
        # All or nothing, as one transaction would be.
        calls.append(_numbers(events))
        if 3 in _numbers(events):
            raise RuntimeError("three breaks everything")
        applied.extend(_numbers(events))

    subscribe_batch(
        harness.broker,
        harness.topic,
        group_id="g",
        handler=handler,
        batch_attempts=2,
        max_attempts=3,
        retry_backoff_seconds=0,
    )
    await harness.run(*(to_json_bytes(_event(n)) for n in range(1, 6)))

    assert calls == [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1], [2], [3], [3], [3], [4], [5]]
    assert applied == [1, 2, 4, 5]
    [reason] = harness.reasons()
    assert "failed 3 times: three breaks everything" in reason
    assert (harness.count("applied"), harness.count("dead_lettered")) == (4, 1)


async def test_a_batch_rejected_as_a_whole_is_split_at_once() -> None:
    harness = Harness()
    calls: list[list[int]] = []

    async def handler(events: Sequence[Event]) -> None:
        calls.append(_numbers(events))
        if 2 in _numbers(events):
            raise PermanentEventError("two is not allowed")

    subscribe_batch(
        harness.broker, harness.topic, group_id="g", handler=handler, retry_backoff_seconds=0
    )
    await harness.run(*(to_json_bytes(_event(n)) for n in (1, 2, 3)))

    assert calls == [[1, 2, 3], [1], [2], [3]]
    [reason] = harness.reasons()
    assert reason.endswith(": two is not allowed")


async def test_a_handler_naming_positions_outside_its_batch_cannot_block_the_topic() -> None:
    harness = Harness()

    async def handler(events: Sequence[Event]) -> Rejections:
        return {len(events): PermanentEventError("off by one")}

    subscribe_batch(
        harness.broker, harness.topic, group_id="g", handler=handler, retry_backoff_seconds=0
    )
    await harness.run(to_json_bytes(_event(1)), to_json_bytes(_event(2)))

    assert len(harness.dead) == 2
    assert all("outside a batch of 1" in reason for reason in harness.reasons())


def test_zero_attempts_are_refused() -> None:
    async def handler(events: Sequence[Event]) -> None:
        return None

    broker = create_broker("127.0.0.1:1", client_id="test-batch", registry=CollectorRegistry())
    with pytest.raises(ValueError, match="max_attempts"):
        subscribe_batch(broker, "t", group_id="g", handler=handler, max_attempts=0)
    with pytest.raises(ValueError, match="batch_attempts"):
        subscribe_batch(broker, "t", group_id="g", handler=handler, batch_attempts=0)
