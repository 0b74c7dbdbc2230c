"""order-sync throughput: canonical orders on shop.orders.v1 to placed events on crm.orders.v1.

Starts order-sync as its own process (as `make up` runs it) on a fresh database and topics of
its own, registers a store, publishes `--orders` canonical orders to its shop topic as fast as
an aiokafka producer can, and reads its crm.orders.v1 topic until every order's
`crm.order.placed` event is there. Beside it, the broker's own rate for the same messages: one
plain aiokafka producer and one consumer carrying the same payloads over a scratch topic.

Lag is measured from each shop record's timestamp (set by the producer when it sends) to the
timestamp of its placed event (set by order-sync's relay when it publishes); one clock.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_order_sync.py --orders 20000
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
from _harness import percentile
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import dlq_topic, ensure_topics
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, ORDER_UPSERTED
from order_sync.orders.events import order_id_for

PLACED = b'"type":"crm.order.placed"'
FORWARDER = Path(__file__).with_name("_forwarder.py")
SAMPLE_SECONDS = 0.5


Ready = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Payload:
    key: bytes
    value: bytes
    order_id: str


@dataclass
class Pass:
    """One run of messages through something: when each was sent and when it came out (epoch
    milliseconds, by key)."""

    sent_ms: dict[str, int]
    out_ms: dict[str, int]

    def sustained(self) -> float:
        """Messages per second from the first output to the last."""
        first, last = min(self.out_ms.values()), max(self.out_ms.values())
        return (len(self.out_ms) - 1) / max((last - first) / 1000, 1e-3)

    def end_to_end(self) -> float:
        """Messages per second from the first send to the last output."""
        first, last = min(self.sent_ms.values()), max(self.out_ms.values())
        return len(self.out_ms) / max((last - first) / 1000, 1e-3)

    def lags(self) -> list[int]:
        return sorted(self.out_ms[k] - self.sent_ms[k] for k in self.out_ms)


def payloads(store_id: str, count: int) -> list[Payload]:
    """`count` distinct canonical orders of `store_id` as shop.order.upserted events."""
    base = datetime(2026, 11, 1, 10, tzinfo=UTC)
    result = []
    for number in range(count):
        external_id = str(5_000_000_000_000_000 + number)  # Shopify-sized: beyond 2**53
        placed = base + timedelta(seconds=number)
        order = {
            **CANONICAL_ORDER_EXAMPLE,
            "store_id": store_id,
            "external_id": external_id,
            "placed_at": placed.isoformat(),
            "updated_at": (placed + timedelta(minutes=5)).isoformat(),
            "customer": {**CANONICAL_ORDER_EXAMPLE["customer"], "external_id": f"c-{number}"},
        }
        event = CloudEvent[dict[str, Any]](
            source=f"shop/{store_id}", type=ORDER_UPSERTED.type, subject=external_id, data=order
        )
        result.append(
            Payload(external_id.encode(), to_json_bytes(event), order_id_for(store_id, external_id))
        )
    return result


def _producer(bootstrap: str) -> AIOKafkaProducer:
    # The same settings for the shop's publishing and for the broker's own pass.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )


async def produce(bootstrap: str, topic: str, messages: Sequence[Payload]) -> dict[str, int]:
    """Send every message without waiting for each acknowledgement; returns their timestamps."""
    sent: dict[str, int] = {}
    producer = _producer(bootstrap)
    await producer.start()
    try:
        pending = []
        for message in messages:
            now = int(time.time() * 1000)
            sent[message.order_id] = now
            pending.append(
                await producer.send(topic, message.value, key=message.key, timestamp_ms=now)
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


async def collect(
    bootstrap: str, topic: str, expected: set[str], *, timeout: float, placed_only: bool
) -> dict[str, int]:
    """Read `topic` from the start until a record for each key in `expected` has come.

    Returns when each key came out: for order-sync's placed events (`placed_only`), the record
    timestamp its relay set when publishing; for the broker's pass, the time it was received
    (its record timestamp is the send time).
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < len(expected):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(seen)} of {len(expected)} after {timeout}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                for record in records:
                    if placed_only and PLACED not in record.value:
                        continue
                    key = record.key.decode()
                    if key in expected:
                        at = record.timestamp if placed_only else int(time.time() * 1000)
                        seen.setdefault(key, at)
    finally:
        await consumer.stop()
    return seen


async def broker_pass(bootstrap: str, messages: Sequence[Payload], partitions: int) -> Pass:
    """The same messages through a plain producer and consumer, concurrently."""
    topic = f"bench.scratch.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, [topic], partitions=partitions)
    # The scratch records are keyed by order id so that "came out" means the same as for
    # order-sync: one record per order.
    keyed = [Payload(m.order_id.encode(), m.value, m.order_id) for m in messages]
    try:
        reader = asyncio.create_task(
            collect(bootstrap, topic, {m.order_id for m in keyed}, timeout=300, placed_only=False)
        )
        result = Pass(sent_ms=await produce(bootstrap, topic, keyed), out_ms={})
        result.out_ms = await reader
    finally:
        await harness.delete_topics(bootstrap, [topic, dlq_topic(topic)])
    return result


async def through(bootstrap: str, source: str, target: str, messages: Sequence[Payload]) -> Pass:
    """Publish `messages` to `source` and read `target` until every order's placed event came
    out of whatever runs between the two."""
    reader = asyncio.create_task(
        collect(
            bootstrap,
            target,
            {m.order_id for m in messages},
            timeout=max(300, len(messages) / 100),
            placed_only=True,
        )
    )
    result = Pass(sent_ms=await produce(bootstrap, source, messages), out_ms={})
    result.out_ms = await reader
    return result


async def forwarder_pass(
    bootstrap: str, messages: Sequence[Payload], partitions: int, workdir: Path
) -> Pass:
    """The same shop records through `_forwarder.py` (consume, publish two records per order,
    no database) in a process of its own, read back as order-sync's events are."""
    suffix = secrets.token_hex(4)
    source, target = f"bench.shop.plain.{suffix}", f"bench.crm.plain.{suffix}"
    await ensure_topics(bootstrap, [source, target], partitions=partitions)
    log_path = workdir / "forwarder.log"

    async def ready() -> bool:
        return log_path.exists() and b"ready" in log_path.read_bytes()

    args = [str(FORWARDER), bootstrap, source, target, f"bench.forwarder.{suffix}"]
    try:
        async with process("forwarder", args, {}, log_path, ready):
            result = await through(bootstrap, source, target, messages)
    finally:
        await harness.delete_topics(bootstrap, [source, target])
    return result


@contextlib.asynccontextmanager
async def process(
    name: str, args: Sequence[str], env: dict[str, str], log_path: Path, ready: Ready
) -> AsyncIterator[None]:
    """`python args` in a process of its own, output to `log_path`; yields once `ready()`."""
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, *args],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while not await ready():
                if child.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after 90s; see {log_path}")
                await asyncio.sleep(0.2)
            yield
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextlib.asynccontextmanager
async def order_sync_process(env: dict[str, str], log_path: Path) -> AsyncIterator[str]:
    """order-sync in a process of its own; yields its base URL once it is ready."""
    base_url = f"http://127.0.0.1:{env['ORDER_SYNC_HTTP_PORT']}"
    async with httpx.AsyncClient(base_url=base_url) as client:

        async def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return (await client.get("/health/ready")).status_code == 200
            return False

        args = ["-c", "from order_sync.main import run; run()"]
        async with process("order-sync", args, env, log_path, ready):
            yield base_url


@dataclass
class Progress:
    """What order-sync's database showed while it worked."""

    stored_first: datetime | None = None
    stored_last: datetime | None = None
    backlog_peak: int = 0
    processed: int = 0


async def watch(database_url: str, progress: Progress, stop: asyncio.Event) -> None:
    """Sample the outbox backlog until `stop`: a growing backlog means the relay is behind."""
    connection = await asyncpg.connect(database_url)
    try:
        while not stop.is_set():
            backlog = await connection.fetchval("SELECT count(*) FROM outbox_events")
            progress.backlog_peak = max(progress.backlog_peak, backlog)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
        row = await connection.fetchrow(
            "SELECT min(changed_at) AS first, max(changed_at) AS last, "
            "(SELECT count(*) FROM processed_events) AS processed FROM orders"
        )
        progress.stored_first, progress.stored_last = row["first"], row["last"]
        progress.processed = row["processed"]
    finally:
        await connection.close()


async def order_sync_pass(
    bootstrap: str,
    server_url: str,
    store_id: str,
    messages: Sequence[Payload],
    partitions: int,
    workdir: Path,
    replicas: int,
) -> tuple[Pass, Progress]:
    suffix = secrets.token_hex(4)
    shop_topic, orders_topic = f"bench.shop.orders.{suffix}", f"bench.crm.orders.{suffix}"
    private_key, public_key = ensure_key_pair(workdir / "jwt")
    token = issue_token(private_key.read_text(), subject="bench", roles=["admin"])
    progress = Progress()
    try:
        async with harness.fresh_database(server_url, "bench_order_sync") as database_url:
            env = {
                "ORDER_SYNC_DATABASE_URL": database_url,
                "ORDER_SYNC_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "ORDER_SYNC_KAFKA_TOPIC_PARTITIONS": str(partitions),
                "ORDER_SYNC_SHOP_ORDERS_TOPIC": shop_topic,
                "ORDER_SYNC_ORDERS_TOPIC": orders_topic,
                "ORDER_SYNC_JWT_PUBLIC_KEY_FILE": str(public_key),
            }
            async with contextlib.AsyncExitStack() as stack:
                # Replicas share the database and the consumer group, as a scaled deployment's.
                base_urls = [
                    await stack.enter_async_context(
                        order_sync_process(
                            {**env, "ORDER_SYNC_HTTP_PORT": str(harness.free_port())},
                            workdir / f"order-sync-{replica}.log",
                        )
                    )
                    for replica in range(1, replicas + 1)
                ]
                async with httpx.AsyncClient(base_url=base_urls[0]) as client:
                    response = await client.post(
                        "/v1/stores",
                        json={
                            "store_id": store_id,
                            "platform": "custom",
                            "name": "Bench shop",
                            "currency": "USD",
                            "country": "US",
                        },
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    response.raise_for_status()
                stop = asyncio.Event()
                watcher = asyncio.create_task(watch(database_url, progress, stop))
                result = await through(bootstrap, shop_topic, orders_topic, messages)
                stop.set()
                await watcher
    finally:
        await harness.delete_topics(
            bootstrap,
            [t for topic in (shop_topic, orders_topic) for t in (topic, dlq_topic(topic))],
        )
    return result, progress


def report(
    args: argparse.Namespace,
    broker: Pass,
    forwarder: Pass,
    order_sync: Pass,
    progress: Progress,
) -> str:
    def row(name: str, rate: float, measured: str, run: Pass) -> str:
        lags = run.lags()
        return (
            f"| {name} | {rate:,.0f} | {measured} "
            f"| {percentile(lags, 0.5) / 1000:.2f} | {percentile(lags, 0.99) / 1000:.2f} |"
        )

    lines = [
        f"order-sync benchmark: {args.orders:,} orders, {args.partitions} partitions, "
        f"{args.replicas} order-sync process(es)",
        "",
        "| pass | msgs/s | measured | p50 lag s | p99 lag s |",
        "| --- | ---: | --- | ---: | ---: |",
        row(
            "broker: aiokafka producer + consumer",
            broker.end_to_end(),
            "first send to last received",
            broker,
        ),
        row(
            "forwarder, no database: two records out per record in",
            forwarder.sustained(),
            "first to last placed record",
            forwarder,
        ),
        row(
            "order-sync: shop.orders.v1 to crm.order.placed",
            order_sync.sustained(),
            "first to last placed event",
            order_sync,
        ),
        row(
            "order-sync, end to end",
            order_sync.end_to_end(),
            "first send to last placed event",
            order_sync,
        ),
        "",
        f"ratio order-sync / broker: {order_sync.sustained() / broker.end_to_end():.2f} "
        "(target >= 0.50)",
        f"ratio forwarder / broker: {forwarder.sustained() / broker.end_to_end():.2f} "
        "(the ceiling of any Python service between the two topics here)",
    ]
    if progress.stored_first and progress.stored_last:
        stored_seconds = (progress.stored_last - progress.stored_first).total_seconds()
        lines.append(
            f"order-sync stored {args.orders:,} orders in {stored_seconds:.1f} s "
            f"({(args.orders - 1) / max(stored_seconds, 1e-3):,.0f}/s); outbox backlog peak "
            f"{progress.backlog_peak:,} events; processed_events {progress.processed:,}"
        )
    return "\n".join(lines)


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20_000, help="orders to publish")
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic")
    parser.add_argument(
        "--replicas", type=int, default=1, help="order-sync processes (one consumer group)"
    )
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    store_id = f"bench-{secrets.token_hex(4)}"
    messages = payloads(store_id, args.orders)

    broker = await broker_pass(bootstrap, messages, args.partitions)
    with tempfile.TemporaryDirectory(prefix="bench-order-sync-") as workdir:
        forwarder = await forwarder_pass(bootstrap, messages, args.partitions, Path(workdir))
        try:
            order_sync, progress = await order_sync_pass(
                bootstrap,
                server_url,
                store_id,
                messages,
                args.partitions,
                Path(workdir),
                args.replicas,
            )
        except Exception:
            for log in sorted(Path(workdir).glob("*.log")):
                sys.stderr.write(f"{log.name}:\n{log.read_text()[-5000:]}\n")
            raise
    figures = report(args, broker, forwarder, order_sync, progress)
    sys.stdout.write(figures + "\n")
    sys.stdout.write(
        json.dumps(
            {
                "orders": args.orders,
                "replicas": args.replicas,
                "broker_msgs_per_s": round(broker.end_to_end()),
                "forwarder_orders_per_s": round(forwarder.sustained()),
                "order_sync_orders_per_s": round(order_sync.sustained()),
                "order_sync_end_to_end_per_s": round(order_sync.end_to_end()),
                "ratio": round(order_sync.sustained() / broker.end_to_end(), 3),
                "forwarder_ratio": round(forwarder.sustained() / broker.end_to_end(), 3),
                "p50_lag_s": percentile(order_sync.lags(), 0.5) / 1000,
                "p99_lag_s": percentile(order_sync.lags(), 0.99) / 1000,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
