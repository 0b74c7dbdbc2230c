"""Kafka wiring: the broker with tracing and metrics, topics, and consumers that never block.

`subscribe` turns a plain async handler of CloudEvents into a consumer that retries a bounded
number of times, then parks the event on `<topic>.dlq` with the reason in its headers and moves
on. Offsets are committed only after the handler (or the dead-letter publish) has succeeded.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from pydantic import ValidationError

from crm_common.envelope import CloudEvent, InvalidEnvelope, parse_envelope

logger = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent[dict[str, Any]]], Awaitable[None]]

CONSUMED = Counter(
    "crm_consumer_events_total", "Events taken off a topic, by outcome", ["topic", "outcome"]
)
DEAD_LETTERED = Counter(
    "crm_dead_lettered_events_total", "Events parked on a dead-letter topic", ["topic"]
)
HANDLING_SECONDS = Histogram(
    "crm_consumer_handling_seconds", "Time to apply one event, retries included", ["topic"]
)


class PermanentEventError(Exception):
    """An event that no retry can apply (e.g. it breaks the contract); dead-letter it at once."""


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def create_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    registry: CollectorRegistry = REGISTRY,
) -> KafkaBroker:
    """A broker whose producer is idempotent and waits for all replicas."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        middlewares=(
            KafkaTelemetryMiddleware(),
            KafkaPrometheusMiddleware(registry=registry, app_name=client_id),
        ),
        logger=logging.getLogger(f"faststream.{client_id}"),
        # One line per message received and processed is too much at INFO in production.
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int = 3
) -> None:
    """Create each topic and its dead-letter topic when missing (replication 1 suits dev only;
    production clusters are expected to provision topics themselves)."""
    names = sorted({name for topic in topics for name in (topic, dlq_topic(topic))})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=1)
            for name in names
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another replica won the race
    finally:
        await admin.close()


def subscribe(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    handler: EventHandler,
    max_attempts: int = 3,
    retry_backoff_seconds: float = 0.2,
) -> None:
    """Consume `topic` in `group_id`, applying `handler` to each event at least once."""

    async def dead_letter(message: KafkaMessage, reason: str, error: BaseException) -> None:
        record = message.raw_message
        headers = {
            **{k: v for k, v in message.headers.items() if isinstance(v, str)},
            "x-dlq-reason": reason[:2000],
            "x-dlq-error": type(error).__name__,
            "x-dlq-source-topic": topic,
            "x-dlq-source-partition": str(getattr(record, "partition", "")),
            "x-dlq-source-offset": str(getattr(record, "offset", "")),
            "x-dlq-consumer-group": group_id,
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        key = getattr(record, "key", None)
        await broker.publish(message.body, dlq_topic(topic), key=key, headers=headers)
        DEAD_LETTERED.labels(topic).inc()
        logger.warning(
            "event dead-lettered",
            extra={"topic": topic, "reason": reason, "offset": headers["x-dlq-source-offset"]},
        )

    @broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def consume(message: KafkaMessage) -> None:
        started = time.perf_counter()
        try:
            event = parse_envelope(message.body)
        except InvalidEnvelope as error:
            await dead_letter(message, f"invalid envelope: {error}", error)
            CONSUMED.labels(topic, "dead_lettered").inc()
            return
        for attempt in range(1, max_attempts + 1):
            try:
                await handler(event)
            except (PermanentEventError, ValidationError) as error:
                await dead_letter(message, f"{event.type} {event.id}: {error}", error)
                CONSUMED.labels(topic, "dead_lettered").inc()
                return
            except Exception as error:
                if attempt == max_attempts:
                    await dead_letter(
                        message, f"{event.type} {event.id}: failed {attempt} times: {error}", error
                    )
                    CONSUMED.labels(topic, "dead_lettered").inc()
                    return
                logger.warning(
                    "event handling failed; retrying",
                    extra={"topic": topic, "event_id": event.id, "attempt": attempt},
                    exc_info=True,
                )
                await asyncio.sleep(retry_backoff_seconds * 2 ** (attempt - 1))
            else:
                CONSUMED.labels(topic, "applied").inc()
                HANDLING_SECONDS.labels(topic).observe(time.perf_counter() - started)
                return
