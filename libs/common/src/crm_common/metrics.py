"""Gauges that have to be measured rather than counted, refreshed in the background.

`ConsumerLag` measures, for every consumer of a broker, how many records of each partition
assigned to it its group has not finished: the partition's end offset minus the group's
committed offset. Offsets are committed only once the handler has stored the effect, so the
records a handler is still working on count as lag: a consumer stuck on its first record of N
shows N, not N - 1. The end offset is the highwater mark of the consumer's last fetch when that
is recent (it costs nothing); otherwise, e.g. while a slow handler keeps the fetcher from
fetching, it is asked of the broker. `Refresher` runs such probes every few seconds in a task of
their own, so measuring never waits on (or holds up) consumption.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from prometheus_client import Gauge

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[None]]
Labels = tuple[str, str, str]

_FIRST_OFFSETS_MAX_AGE = 60.0

CONSUMER_LAG = Gauge(
    "crm_consumer_lag_messages",
    "Records of a partition its consumer group has not applied and committed yet, as seen by the"
    " replica the partition is assigned to",
    ["topic", "partition", "group"],
)


class ConsumerLag:
    """Sets `crm_consumer_lag_messages` for the partitions assigned to each consumer of
    `broker`, and drops the series of partitions no longer assigned to this process."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        timeout_seconds: float = 5.0,
        highwater_max_age_seconds: float = 2.0,
    ) -> None:
        self._broker = broker
        self._timeout = timeout_seconds
        # An idle consumer's fetches return at least every fetch_max_wait_ms (0.5 s by default).
        self._highwater_max_age_ms = highwater_max_age_seconds * 1000
        self._reported: dict[int, set[Labels]] = {}
        # First offsets of partitions whose group has committed nothing: they move only with
        # retention, so asking once a minute is plenty.
        self._starts: dict[TopicPartition, tuple[float, int]] = {}

    async def refresh(self) -> None:
        measured: dict[int, set[Labels]] = {}
        for group, consumer in _consumers(self._broker):
            try:
                async with asyncio.timeout(self._timeout):
                    lags = await self._lag(consumer)
            except Exception:
                # Keep this consumer's last figures: during a rebalance or a broker hiccup a
                # stale lag says more than none.
                logger.debug("consumer lag not measured", extra={"group": group}, exc_info=True)
                measured[id(consumer)] = self._reported.get(id(consumer), set())
                continue
            labels = set()
            for tp, lag in lags.items():
                series = (tp.topic, str(tp.partition), group)
                CONSUMER_LAG.labels(*series).set(lag)
                labels.add(series)
            measured[id(consumer)] = labels
        self._forget(set().union(*self._reported.values()) - set().union(*measured.values()))
        self._reported = measured

    def clear(self) -> None:
        """Drop every series this probe set (its consumers have stopped)."""
        self._forget(set().union(*self._reported.values()))
        self._reported = {}

    async def _lag(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        partitions: Sequence[TopicPartition] = sorted(consumer.assignment())
        if not partitions:
            return {}
        ends = await self._ends(consumer, partitions)
        committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
        done = dict(zip(partitions, committed, strict=True))
        # A group that has committed nothing yet starts at the first offset (our consumers read
        # from the earliest record).
        starts = await self._first_offsets(
            consumer, [tp for tp, offset in done.items() if offset is None]
        )
        return {
            tp: max(ends[tp] - (offset if offset is not None else starts[tp]), 0)
            for tp, offset in done.items()
            if tp in ends and (offset is not None or tp in starts)
        }

    async def _ends(
        self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = {}
        now_ms = time.time() * 1000
        for tp in partitions:
            highwater, polled_ms = consumer.highwater(tp), consumer.last_poll_timestamp(tp)
            if highwater is not None and polled_ms is not None:
                if now_ms - polled_ms <= self._highwater_max_age_ms:
                    ends[tp] = highwater
        # A ListOffsets request waits behind the consumer's pending long-poll fetch on the same
        # connection (up to fetch_max_wait_ms), so it is asked only for what the fetches miss.
        missing = [tp for tp in partitions if tp not in ends]
        if missing:
            ends.update(await consumer.end_offsets(missing))
        return ends

    async def _first_offsets(
        self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        now = time.monotonic()
        stale = [
            tp
            for tp in partitions
            if tp not in self._starts or now - self._starts[tp][0] > _FIRST_OFFSETS_MAX_AGE
        ]
        if stale:
            for tp, offset in (await consumer.beginning_offsets(stale)).items():
                self._starts[tp] = (now, offset)
        return {tp: self._starts[tp][1] for tp in partitions if tp in self._starts}

    @staticmethod
    def _forget(series: set[Labels]) -> None:
        for labels in series:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(*labels)


def _consumers(broker: KafkaBroker) -> Iterable[tuple[str, AIOKafkaConsumer]]:
    """(group id, consumer) of every started subscriber that belongs to a consumer group."""
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None)
        if not group:
            continue  # no group, no committed offsets to measure against
        consumers: list[Any] = [getattr(subscriber, "consumer", None)]
        # FastStream's subscriber with `max_workers` runs a consumer per worker.
        consumers += getattr(subscriber, "consumer_subgroup", None) or []
        seen: set[int] = set()
        for consumer in consumers:
            if isinstance(consumer, AIOKafkaConsumer) and id(consumer) not in seen:
                seen.add(id(consumer))
                yield group, consumer


class Refresher:
    """Runs each probe every `interval_seconds` in a background task; a probe that fails is
    logged and tried again next time, without stopping the others."""

    def __init__(self, probes: Sequence[Probe], *, interval_seconds: float = 10.0) -> None:
        self._probes = tuple(probes)
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="metrics-refresher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        """Run every probe once."""
        for probe in self._probes:
            try:
                await probe()
            except Exception:
                logger.warning("metrics probe failed", exc_info=True)

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval)
