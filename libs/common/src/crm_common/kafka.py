"""Kafka wiring: the broker with tracing and metrics, topics, and consumers that never block.

`subscribe` turns a plain async handler of CloudEvents into a consumer that retries a bounded
number of times, then parks the event on `<topic>.dlq` with the reason in its headers and moves
on. `subscribe_batch` does the same for a handler that applies many events at once (typically in
one transaction), and falls back to one event at a time to isolate an event that fails. Offsets
are committed only after the handler (or the dead-letter publish) has succeeded.

A failure that says a store or the broker is out of reach (`crm_common.outages.is_outage`) is
no fault of the event and uses up none of its tries: the consumer pauses, longer each time up
to `OUTAGE_MAX_PAUSE_SECONDS`, and tries the same events again until the outage ends.
"""

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.security import SASLScram512
from faststream.types import DecodedMessage
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError

from crm_common.envelope import CloudEvent, InvalidEnvelope, parse_envelope
from crm_common.outages import is_outage

logger = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent[dict[str, Any]]], Awaitable[None]]
Rejections = Mapping[int, Exception]
"""Events a batch handler could not apply, by position in its batch, with why."""
BatchHandler = Callable[[Sequence[CloudEvent[dict[str, Any]]]], Awaitable[Rejections | None]]

CONSUMED = Counter(
    "crm_consumer_events_total", "Events taken off a topic, by outcome", ["topic", "outcome"]
)
DEAD_LETTERED = Counter(
    "crm_dead_lettered_events_total", "Events parked on a dead-letter topic", ["topic"]
)
HANDLING_SECONDS = Histogram(
    "crm_consumer_handling_seconds", "Time to apply one event, retries included", ["topic"]
)
BATCH_SECONDS = Histogram(
    "crm_consumer_batch_seconds",
    "Time to apply one batch, retries and one-at-a-time fallback included",
    ["topic"],
)
BATCH_EVENTS = Histogram(
    "crm_consumer_batch_events",
    "Records per batch taken off a topic",
    ["topic"],
    buckets=(1, 5, 25, 50, 100, 250, 500, 1000, 2500),
)


CONSUMER_PAUSED = Gauge(
    "crm_consumer_paused",
    "1 while a consumer waits for an unreachable store or broker to come back",
    ["topic"],
)
OUTAGE_RETRIES = Counter(
    "crm_consumer_outage_retries_total",
    "Tries of events that failed because a store or the broker was out of reach",
    ["topic"],
)

OUTAGE_FIRST_PAUSE_SECONDS = 0.2
OUTAGE_MAX_PAUSE_SECONDS = 5.0
# Longer than this inside one delivery, and the records are handed back (their partitions
# rewound) to be fetched again, so that the consumer keeps polling and stays in its group
# however long the outage lasts (aiokafka's max_poll_interval_ms is 300 s).
_OUTAGE_WAIT_PER_DELIVERY_SECONDS = 30.0

MAX_MESSAGE_BYTES = 1024 * 1024
"""The largest record (payload, key and headers) a service's producer sends: what the broker's
default `message.max.bytes` takes. Whatever a service accepts must publish within it."""


class PermanentEventError(Exception):
    """An event that no retry can apply (e.g. it breaks the contract); dead-letter it at once."""


class OutageContinues(Exception):
    """A store or the broker is still out of reach after a delivery's wait: the consumer hands
    its records back, to be fetched and tried again."""


class _Outage:
    """Waits out the outages one subscription meets, pausing longer each time."""

    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._pauses = 0
        self._since: float | None = None
        self._delivery_started = time.monotonic()

    def new_delivery(self) -> None:
        self._delivery_started = time.monotonic()

    async def wait(self, error: BaseException) -> None:
        """Pause before the next try; raises `OutageContinues` once this delivery has waited
        long enough."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
            CONSUMER_PAUSED.labels(self._topic).set(1)
            logger.warning(
                "store or broker out of reach; consumption paused until it is back",
                extra={"topic": self._topic, "error": f"{type(error).__name__}: {error}"},
            )
        OUTAGE_RETRIES.labels(self._topic).inc()
        if now - self._delivery_started >= _OUTAGE_WAIT_PER_DELIVERY_SECONDS:
            raise OutageContinues(f"{self._topic}: still out of reach: {error}") from error
        pause = min(OUTAGE_FIRST_PAUSE_SECONDS * 2**self._pauses, OUTAGE_MAX_PAUSE_SECONDS)
        self._pauses += 1
        await asyncio.sleep(pause)

    def over(self) -> None:
        """The last try reached the store: any outage has ended."""
        if self._since is not None:
            logger.warning(
                "consumption resumed",
                extra={"topic": self._topic, "paused_seconds": time.monotonic() - self._since},
            )
            CONSUMER_PAUSED.labels(self._topic).set(0)
            self._since = None
        self._pauses = 0


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """SASL/SCRAM-SHA-512 over TLS: who a service is to the brokers, and the CA it trusts."""

    username: str
    password: str = field(repr=False)
    cafile: str | None = None
    """PEM certificates of the CAs to trust; None: the system's."""

    def ssl_context(self) -> ssl.SSLContext:
        context: ssl.SSLContext = create_ssl_context(cafile=self.cafile)
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for an aiokafka client (producer, consumer, admin)."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            "ssl_context": self.ssl_context(),
        }

    def for_faststream(self) -> SASLScram512:
        return SASLScram512(
            username=self.username, password=self.password, ssl_context=self.ssl_context()
        )


def client_options(security: KafkaSecurity | None) -> dict[str, Any]:
    """What an aiokafka client needs beyond the bootstrap servers (nothing, in plain text)."""
    return security.client_options() if security is not None else {}


def create_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    registry: CollectorRegistry = REGISTRY,
    drain_seconds: float = 10.0,
    security: KafkaSecurity | None = None,
) -> KafkaBroker:
    """A broker whose producer is idempotent and waits for all replicas; stopping it gives each
    consumer up to `drain_seconds` to finish and commit the batch in hand."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=security.for_faststream() if security is not None else None,
        graceful_timeout=drain_seconds,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=MAX_MESSAGE_BYTES,
        max_request_size=MAX_MESSAGE_BYTES,
        middlewares=(
            KafkaTelemetryMiddleware(),
            KafkaPrometheusMiddleware(registry=registry, app_name=client_id),
        ),
        logger=logging.getLogger(f"faststream.{client_id}"),
        # One line per message received and processed is too much at INFO in production.
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = 3,
    security: KafkaSecurity | None = None,
) -> None:
    """Create each topic and its dead-letter topic when missing (replication 1 suits dev only;
    production clusters are expected to provision topics themselves)."""
    names = sorted({name for topic in topics for name in (topic, dlq_topic(topic))})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options(security))
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


class _DeadLetters:
    """Parks the events of `topic` that `group_id` cannot apply on `<topic>.dlq`."""

    def __init__(self, broker: KafkaBroker, topic: str, group_id: str) -> None:
        self._broker = broker
        self._topic = topic
        self._group_id = group_id

    async def park(
        self,
        record: Any,
        body: bytes,
        headers: Mapping[str, Any],
        reason: str,
        error: BaseException,
    ) -> None:
        """Publish `body` to the dead-letter topic with the source record's key and position."""
        dlq_headers = {
            **{k: v for k, v in headers.items() if isinstance(v, str)},
            "x-dlq-reason": reason[:2000],
            "x-dlq-error": type(error).__name__,
            "x-dlq-source-topic": self._topic,
            "x-dlq-source-partition": str(getattr(record, "partition", "")),
            "x-dlq-source-offset": str(getattr(record, "offset", "")),
            "x-dlq-consumer-group": self._group_id,
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
        key = getattr(record, "key", None)
        await self._broker.publish(body, dlq_topic(self._topic), key=key, headers=dlq_headers)
        DEAD_LETTERED.labels(self._topic).inc()
        CONSUMED.labels(self._topic, "dead_lettered").inc()
        logger.warning(
            "event dead-lettered",
            extra={
                "topic": self._topic,
                "reason": reason,
                "offset": dlq_headers["x-dlq-source-offset"],
            },
        )


Park = Callable[[str, BaseException], Awaitable[None]]


async def _apply_with_retries(
    apply: Callable[[], Awaitable[Exception | None]],
    event: CloudEvent[dict[str, Any]],
    *,
    park: Park,
    topic: str,
    outage: _Outage,
    max_attempts: int,
    retry_backoff_seconds: float,
) -> bool:
    """Apply one event, retrying what may be transient; park it when it cannot be applied.

    `apply` raises, or returns the reason the event is rejected; True when it was applied.
    """
    attempt = 1
    while True:
        try:
            rejection = await apply()
        except (PermanentEventError, ValidationError) as error:
            rejection = error
        except Exception as error:
            if is_outage(error):
                await outage.wait(error)
                continue
            if attempt == max_attempts:
                await park(f"{event.type} {event.id}: failed {attempt} times: {error}", error)
                return False
            logger.warning(
                "event handling failed; retrying",
                extra={"topic": topic, "event_id": event.id, "attempt": attempt},
                exc_info=True,
            )
            await asyncio.sleep(retry_backoff_seconds * 2 ** (attempt - 1))
            attempt += 1
            continue
        outage.over()
        if rejection is not None:
            await park(f"{event.type} {event.id}: {rejection}", rejection)
            return False
        CONSUMED.labels(topic, "applied").inc()
        return True


def _check_attempts(**attempts: int) -> None:
    # Zero attempts would skip the handler and the dead-letter topic alike: a silent drop.
    for name, value in attempts.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")


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
    _check_attempts(max_attempts=max_attempts)
    dead_letters = _DeadLetters(broker, topic, group_id)
    outage = _Outage(topic)

    @broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_undecoded,
    )
    async def consume(message: KafkaMessage) -> None:
        started = time.perf_counter()
        outage.new_delivery()

        async def park(reason: str, error: BaseException) -> None:
            await dead_letters.park(
                message.raw_message, message.body, message.headers, reason, error
            )

        try:
            event = parse_envelope(message.body)
        except InvalidEnvelope as error:
            await park(f"invalid envelope: {error}", error)
            return

        async def apply() -> None:
            await handler(event)

        if await _apply_with_retries(
            apply,
            event,
            park=park,
            topic=topic,
            outage=outage,
            max_attempts=max_attempts,
            retry_backoff_seconds=retry_backoff_seconds,
        ):
            HANDLING_SECONDS.labels(topic).observe(time.perf_counter() - started)


def subscribe_batch(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    handler: BatchHandler,
    max_records: int = 500,
    batch_timeout_ms: int = 100,
    batch_attempts: int = 2,
    max_attempts: int = 3,
    retry_backoff_seconds: float = 0.2,
) -> None:
    """Consume `topic` in `group_id` in batches of up to `max_records`, at least once.

    `handler` gets the batch's events in partition order; records that are no CloudEvent never
    reach it and are dead-lettered with their reason. It must apply the events all or none (one
    transaction), and returns the positions of those it rejects, with why: those are
    dead-lettered, the rest count as applied. When it raises, the batch is tried again up to
    `batch_attempts` times in all; then its events go to `handler` one at a time, each with
    `max_attempts` tries as in `subscribe`, so one poison event is dead-lettered while the
    others are applied. Dead letters go out in offset order, and offsets are committed once the
    whole batch is settled. Failures that name an outage count as no try (see the module's
    docstring). `crm_consumer_handling_seconds` gets each applied event's share of its batch's
    time.
    """
    _check_attempts(batch_attempts=batch_attempts, max_attempts=max_attempts)
    dead_letters = _DeadLetters(broker, topic, group_id)
    outage = _Outage(topic)
    handling_seconds = HANDLING_SECONDS.labels(topic)

    def parker(record: Any) -> Park:
        async def park(reason: str, error: BaseException) -> None:
            await dead_letters.park(record, record.value or b"", _headers(record), reason, error)

        return park

    def one_at_a_time(
        event: CloudEvent[dict[str, Any]],
    ) -> Callable[[], Awaitable[Exception | None]]:
        async def apply() -> Exception | None:
            rejections = _checked(await handler([event]), 1)
            return rejections.get(0)

        return apply

    async def apply_together(batch: list[CloudEvent[dict[str, Any]]]) -> Rejections | None:
        """The batch handler's verdict on `batch`, or None when it must be split."""
        attempt = 1
        while attempt <= batch_attempts:
            try:
                rejections = _checked(await handler(batch), len(batch))
                outage.over()
                return rejections
            except (PermanentEventError, ValidationError):
                # Raised for the batch as a whole, it names no event: find it one at a time.
                logger.warning(
                    "batch rejected as a whole; applying its events one at a time",
                    extra={"topic": topic, "events": len(batch)},
                    exc_info=True,
                )
                return None
            except Exception as error:
                if is_outage(error):
                    await outage.wait(error)
                    continue
                logger.warning(
                    "batch handling failed",
                    extra={"topic": topic, "events": len(batch), "attempt": attempt},
                    exc_info=True,
                )
                if attempt < batch_attempts:
                    await asyncio.sleep(retry_backoff_seconds * 2 ** (attempt - 1))
                attempt += 1
        return None

    async def settle(records: Sequence[Any]) -> int:
        """Apply or dead-letter every record (dead letters in offset order); returns how many
        were applied."""
        events: dict[int, CloudEvent[dict[str, Any]]] = {}
        parked: dict[int, tuple[str, BaseException]] = {}
        for position, record in enumerate(records):
            try:
                events[position] = parse_envelope(record.value or b"")
            except InvalidEnvelope as error:
                parked[position] = (f"invalid envelope: {error}", error)
        positions, batch = list(events), list(events.values())
        rejections = await apply_together(batch) if batch else {}
        if rejections is not None:
            for index, rejection in rejections.items():
                event = batch[index]
                parked[positions[index]] = (f"{event.type} {event.id}: {rejection}", rejection)
            for position in sorted(parked):
                await parker(records[position])(*parked[position])
            applied = len(batch) - len(rejections)
            CONSUMED.labels(topic, "applied").inc(applied)
            return applied
        applied = 0
        for position, record in enumerate(records):
            if position in parked:
                await parker(record)(*parked[position])
                continue
            applied += await _apply_with_retries(
                one_at_a_time(events[position]),
                events[position],
                park=parker(record),
                topic=topic,
                outage=outage,
                max_attempts=max_attempts,
                retry_backoff_seconds=retry_backoff_seconds,
            )
        return applied

    @broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        decoder=_undecoded,
    )
    async def consume(message: KafkaMessage) -> None:
        started = time.perf_counter()
        outage.new_delivery()
        records = message.raw_message
        BATCH_EVENTS.labels(topic).observe(len(records))
        applied = await settle(records)
        elapsed = time.perf_counter() - started
        BATCH_SECONDS.labels(topic).observe(elapsed)
        for _ in range(applied):
            handling_seconds.observe(elapsed / len(records))


async def _undecoded(_: StreamMessage[Any]) -> DecodedMessage:
    # The handlers parse each record's bytes themselves (`parse_envelope`); FastStream would
    # otherwise decode every record's JSON once more, only to throw it away.
    return None


def _checked(rejections: Rejections | None, size: int) -> Rejections:
    # A position outside the batch is a handler bug; raising lets the retries, and at last the
    # dead-letter topic, deal with it instead of committing a batch nobody understood.
    if rejections and not all(0 <= position < size for position in rejections):
        raise ValueError(f"rejected positions {sorted(rejections)} outside a batch of {size}")
    return rejections or {}


def _headers(record: Any) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in record.headers or ()}
