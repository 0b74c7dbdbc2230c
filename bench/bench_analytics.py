"""analytics throughput: crm.orders.v1 order snapshots and crm.customers.v1 attributions into
order facts.

Starts analytics as its own process (as `make up` runs it) on a fresh database and topics of its
own, then publishes, concurrently on its two topics as a replay of history does:
- `--orders` orders as order-sync publishes them (`OrderSnapshot` payloads of the order
  contracts): every order `crm.order.placed`, a share of them also `paid` (version 2), and some
  of those `fulfilled` or `refunded` (version 3), the versions of all orders interleaved by time;
- a `crm.customer.order_attributed` event for most orders (a pool of returning customers) and a
  few `crm.customer.merged` events, each after the merged customer's last attribution, as
  customer-profile publishes them (keyed by customer).

It polls the service's database every 0.2 s until every order's fact holds its last version and
every customer event is claimed in `processed_events`, then checks that each fact names the
customer the events say (the survivor, for a merged one). Beside it, the broker's own rate for
the same records: one plain aiokafka producer and one consumer over a scratch topic.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_analytics.py --orders 20000
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from crm_common.devtoken import ensure_key_pair
from crm_common.envelope import to_json_bytes
from crm_common.kafka import dlq_topic, ensure_topics
from crm_events.customer import (
    CUSTOMER_MERGED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CustomerMerged,
    CustomerOrderAttributed,
)
from crm_events.order import ORDER_CONTRACTS
from crm_events.shop import CANONICAL_ORDER_EXAMPLE

POLL_SECONDS = 0.2
BASE = datetime(2025, 1, 1, 10, tzinfo=UTC)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_CONTRACTS = {contract.type: contract for contract in ORDER_CONTRACTS}


@dataclass(frozen=True)
class Payload:
    key: bytes
    value: bytes


@dataclass
class Workload:
    """The records to publish, and what the facts must say once they are applied."""

    orders: list[Payload] = field(default_factory=list)
    customers: list[Payload] = field(default_factory=list)
    last_versions: dict[str, int] = field(default_factory=dict)
    customer_of: dict[str, str] = field(default_factory=dict)
    """The customer each attributed order's fact must name (merges followed)."""
    merges: int = 0


def _snapshot(number: int, version: int, at: datetime, person: int, seed: int) -> dict[str, Any]:
    """Order `number` of the workload as order-sync stores it at `version`."""
    placed = BASE + timedelta(minutes=number)
    data: dict[str, Any] = {
        **CANONICAL_ORDER_EXAMPLE,
        "order_id": f"bench-{seed}-{number}",
        "store_id": f"bench-store-{number % 3}",
        "external_id": str(5_000_000_000_000_000 + number),  # Shopify-sized: beyond 2**53
        "placed_at": placed.isoformat(),
        "updated_at": at.isoformat(),
        "customer": {
            **CANONICAL_ORDER_EXAMPLE["customer"],
            "external_id": f"shop-c-{person}",
            "email": f"person{person}@example.com",
        },
        "store_country": "US",
        "version": version,
    }
    if version == 1:
        data |= {"financial_status": "pending", "net_paid": "0"}
    elif version == 2:
        data |= {"financial_status": "paid", "net_paid": data["total"]}
    else:
        data |= {
            "financial_status": "partially_refunded",
            "refunded_total": "12.50",
            "net_paid": "19.50",
        }
    return data


def workload(count: int, seed: int, *, attributed: float, merges_per_1000: int) -> Workload:
    """`count` orders (some with 2 or 3 versions), most attributed, a few customers merged."""
    rng = random.Random(seed)
    people = max(2, count // 2)
    timed_orders: list[tuple[datetime, int, Payload]] = []
    timed_customers: list[tuple[datetime, int, Payload]] = []
    result = Workload()
    last_attribution: dict[str, datetime] = {}
    for number in range(count):
        person = rng.randrange(people)
        placed = BASE + timedelta(minutes=number)
        roll = rng.random()
        versions = [(1, "crm.order.placed", placed)]
        if roll < 0.35:
            versions.append((2, "crm.order.paid", placed + timedelta(minutes=30)))
        if roll < 0.1:
            event_type = rng.choice(["crm.order.fulfilled", "crm.order.partially_refunded"])
            versions.append((3, event_type, placed + timedelta(days=1)))
        order_id = f"bench-{seed}-{number}"
        for version, event_type, at in versions:
            contract = _CONTRACTS[event_type]
            data = contract.model.model_validate(_snapshot(number, version, at, person, seed))
            event = contract.event(data, source="order-sync", time=at)
            timed_orders.append(
                (at, len(timed_orders), Payload(order_id.encode(), to_json_bytes(event)))
            )
        result.last_versions[order_id] = versions[-1][0]
        if rng.random() < attributed:
            customer_id = f"bench-cust-{seed}-{person}"
            at = placed + timedelta(minutes=1)
            attribution = CustomerOrderAttributed(
                customer_id=customer_id,
                order_id=order_id,
                store_id=f"bench-store-{number % 3}",
                order_external_id=str(5_000_000_000_000_000 + number),
            )
            event = CUSTOMER_ORDER_ATTRIBUTED.event(attribution, source="customer-profile", time=at)
            payload = Payload(customer_id.encode(), to_json_bytes(event))
            timed_customers.append((at, len(timed_customers), payload))
            result.customer_of[order_id] = customer_id
            last_attribution[customer_id] = at
    # Merges between customers of the pool, each after the merged customer's last attribution
    # (no event names a merged customer afterwards); merged and surviving customers kept apart,
    # so that every merge applies.
    customers = sorted(last_attribution)
    rng.shuffle(customers)
    wanted = min(len(customers) // 2, count * merges_per_1000 // 1000)
    survivor_of: dict[str, str] = {}
    for merged_id, survivor_id in zip(
        customers[:wanted], customers[wanted : 2 * wanted], strict=True
    ):
        at = last_attribution[merged_id] + timedelta(seconds=rng.randrange(1, 3600))
        merged = CustomerMerged(
            merge_id=f"bench-merge-{secrets.token_hex(6)}",
            survivor_id=survivor_id,
            merged_id=merged_id,
            merged_at=at,
            reason="identity",
        )
        event = CUSTOMER_MERGED.event(merged, source="customer-profile", time=at)
        timed_customers.append(
            (at, len(timed_customers), Payload(merged_id.encode(), to_json_bytes(event)))
        )
        survivor_of[merged_id] = survivor_id
    result.merges = len(survivor_of)
    result.customer_of = {
        order_id: survivor_of.get(customer, customer)
        for order_id, customer in result.customer_of.items()
    }
    result.orders = [payload for *_, payload in sorted(timed_orders)]
    result.customers = [payload for *_, payload in sorted(timed_customers)]
    return result


def _producer(bootstrap: str) -> AIOKafkaProducer:
    # The same settings for the benchmark's publishing and for the broker's own pass.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )


async def produce(bootstrap: str, topic: str, messages: Sequence[Payload]) -> None:
    """Send every message without waiting for each acknowledgement in turn."""
    producer = _producer(bootstrap)
    await producer.start()
    try:
        pending = [await producer.send(topic, m.value, key=m.key) for m in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def broker_pass(bootstrap: str, messages: Sequence[Payload], partitions: int) -> float:
    """Messages per second through one plain producer and one consumer over a scratch topic,
    from the first send to the last message received."""
    topic = f"bench.scratch.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, [topic], partitions=partitions)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        await consumer.start()

        async def read_all() -> None:
            received = 0
            deadline = time.monotonic() + 300
            while received < len(messages):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic}: {received} of {len(messages)} after 300s")
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                received += sum(len(records) for records in batch.values())

        reader = asyncio.create_task(read_all())
        started = time.monotonic()
        await produce(bootstrap, topic, messages)
        await reader
        return len(messages) / (time.monotonic() - started)
    finally:
        await consumer.stop()
        await harness.delete_topics(bootstrap, [topic, dlq_topic(topic)])


@dataclass
class Usage:
    """What the service's process used, from /proc."""

    cpu_seconds: float
    rss_peak_mb: float


def usage(pid: int) -> Usage:
    """CPU seconds (user + system) so far and the resident memory peak of process `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    peak_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return Usage(cpu, peak_kb / 1024)


@contextlib.asynccontextmanager
async def service_process(env: dict[str, str], log_path: Path) -> AsyncIterator[int]:
    """analytics in a process of its own; yields its pid once it is ready."""
    base_url = f"http://127.0.0.1:{env['ANALYTICS_HTTP_PORT']}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from analytics.main import run; run()"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=base_url) as client:
                deadline = time.monotonic() + 90
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"analytics exited; see {log_path}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/health/ready")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"not ready after 90s; see {log_path}")
                    await asyncio.sleep(0.2)
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Result:
    order_events: int
    customer_events: int
    facts_seconds: float
    """From the first poll seeing a fact to the one seeing every fact at its last version."""
    facts_end_to_end: float
    """From the first record sent to every fact at its last version."""
    all_end_to_end: float
    """From the first record sent to every order and customer event applied."""
    cpu_seconds: float
    rss_peak_mb: float
    published_seconds: float
    """From the first record sent to the last acknowledged by the broker."""
    mismatched: int
    """Facts that do not name the customer the events say."""
    load: str


async def wait_applied(
    database_url: str, work: Workload, warm: Workload, started: float, timeout: float
) -> tuple[float, float, float]:
    """Poll until every fact is at its last version and every customer event is claimed (the
    warm-up's are there already); returns (first fact seen to all facts, first send to all
    facts, first send to all)."""
    expected = (
        len(work.last_versions) + len(warm.last_versions),
        sum(work.last_versions.values()) + sum(warm.last_versions.values()),
    )
    claims = len(work.customers) + len(warm.customers)
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        first_seen: float | None = None
        facts_done: float | None = None
        while True:
            # Versions only grow, so the count and the sum of versions reach the expected pair
            # exactly when every order holds its last version.
            row = await connection.fetchrow(
                "SELECT count(*) AS facts, coalesce(sum(version), 0) AS versions,"
                " (SELECT count(*) FROM processed_events) AS claimed FROM order_facts"
            )
            now = time.monotonic()
            if row["facts"] > len(warm.last_versions) and first_seen is None:
                first_seen = now
            if facts_done is None and (row["facts"], row["versions"]) == expected:
                facts_done = now
            if facts_done is not None and row["claimed"] >= claims:
                break
            if now > deadline:
                raise TimeoutError(
                    f"after {timeout:.0f}s: {row['facts']} of {expected[0]} facts, version sum "
                    f"{row['versions']} of {expected[1]}, {row['claimed']} of "
                    f"{claims} customer events (the warm-up's included)"
                )
            await asyncio.sleep(POLL_SECONDS)
        assert first_seen is not None
        assert facts_done is not None
        return facts_done - first_seen, facts_done - started, now - started
    finally:
        await connection.close()


async def warm_up(
    bootstrap: str, database_url: str, orders_topic: str, customers_topic: str
) -> Workload:
    """One order and one attribution of a store of their own, waited for: the consumers have
    joined their groups (a new group waits `group.initial.rebalance.delay.ms`, 3 s by default,
    before its first assignment) and the clock starts with them ready."""
    warm = workload(1, seed=-1, attributed=1.0, merges_per_1000=0)
    await produce(bootstrap, orders_topic, warm.orders)
    await produce(bootstrap, customers_topic, warm.customers)
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + 60
        while not await connection.fetchval(
            "SELECT EXISTS (SELECT FROM order_facts) AND EXISTS (SELECT FROM processed_events)"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("the warm-up events were not applied within 60 s")
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return warm


async def mismatches(database_url: str, work: Workload) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT order_id, customer_id FROM order_facts")
    finally:
        await connection.close()
    stored = {row["order_id"]: row["customer_id"] for row in rows}
    return sum(
        1
        for order_id in work.last_versions
        if stored.get(order_id) != work.customer_of.get(order_id)
    )


async def run_pass(
    bootstrap: str, server_url: str, work: Workload, *, partitions: int, workdir: Path
) -> Result:
    suffix = secrets.token_hex(4)
    orders_topic, customers_topic = f"bench.crm.orders.{suffix}", f"bench.crm.customers.{suffix}"
    _, public_key = ensure_key_pair(workdir / "jwt")
    await ensure_topics(bootstrap, [orders_topic, customers_topic], partitions=partitions)
    try:
        async with harness.fresh_database(server_url, "bench_analytics") as database_url:
            env = {
                "ANALYTICS_DATABASE_URL": database_url,
                "ANALYTICS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "ANALYTICS_KAFKA_TOPIC_PARTITIONS": str(partitions),
                "ANALYTICS_ORDERS_TOPIC": orders_topic,
                "ANALYTICS_CUSTOMERS_TOPIC": customers_topic,
                "ANALYTICS_CONSUMER_GROUP": f"bench-analytics-{suffix}",
                "ANALYTICS_JWT_PUBLIC_KEY_FILE": str(public_key),
                "ANALYTICS_HTTP_PORT": str(harness.free_port()),
            }
            async with service_process(env, workdir / "analytics.log") as pid:
                warm = await warm_up(bootstrap, database_url, orders_topic, customers_topic)
                idle = usage(pid)
                load = Path("/proc/loadavg").read_text().split()[0]
                started = time.monotonic()
                await asyncio.gather(
                    produce(bootstrap, orders_topic, work.orders),
                    produce(bootstrap, customers_topic, work.customers),
                )
                published = time.monotonic() - started
                events = len(work.orders) + len(work.customers)
                facts_seconds, facts_end_to_end, all_end_to_end = await wait_applied(
                    database_url, work, warm, started, timeout=max(600, events / 20)
                )
                busy = usage(pid)
            mismatched = await mismatches(database_url, work)
    finally:
        await harness.delete_topics(
            bootstrap,
            [t for topic in (orders_topic, customers_topic) for t in (topic, dlq_topic(topic))],
        )
    return Result(
        order_events=len(work.orders),
        customer_events=len(work.customers),
        facts_seconds=facts_seconds,
        facts_end_to_end=facts_end_to_end,
        all_end_to_end=all_end_to_end,
        cpu_seconds=busy.cpu_seconds - idle.cpu_seconds,
        rss_peak_mb=busy.rss_peak_mb,
        published_seconds=published,
        mismatched=mismatched,
        load=load,
    )


def report(result: Result, work: Workload, broker: float, *, partitions: int) -> str:
    events = result.order_events + result.customer_events
    sustained = result.order_events / max(result.facts_seconds, 1e-3)
    lines = [
        f"analytics benchmark: {len(work.last_versions):,} orders ({result.order_events:,} "
        f"order events), {result.customer_events:,} customer events "
        f"({result.customer_events - work.merges:,} attributions, {work.merges:,} merges), "
        f"{partitions} partitions, load average {result.load} at the start",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| broker msgs/s (plain producer + consumer, the same records) | {broker:,.0f} |",
        f"| order events/s (first fact seen to all facts at their last version) "
        f"| {sustained:,.0f} |",
        f"| order events/s end to end (first send to all facts) "
        f"| {result.order_events / result.facts_end_to_end:,.0f} |",
        f"| all events/s end to end (first send to every event applied) "
        f"| {events / result.all_end_to_end:,.0f} |",
        f"| end to end s | {result.all_end_to_end:,.1f} |",
        f"| publishing s (first send to last acknowledged, both topics) "
        f"| {result.published_seconds:,.1f} |",
        f"| service CPU s (user + system, while applying) | {result.cpu_seconds:,.1f} |",
        f"| service CPU per event | {1e6 * result.cpu_seconds / events:,.0f} µs |",
        f"| service resident memory peak | {result.rss_peak_mb:,.0f} MB |",
        f"| facts naming another customer than the events say | {result.mismatched:,} |",
    ]
    return "\n".join(lines)


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=20_000, help="orders (1 to 3 events each)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of each topic")
    parser.add_argument("--attributed", type=float, default=0.9, help="share of orders attributed")
    parser.add_argument("--merges", type=int, default=5, help="merges per 1,000 orders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-broker", action="store_true", help="leave out the broker's pass")
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    work = workload(args.orders, args.seed, attributed=args.attributed, merges_per_1000=args.merges)
    broker = (
        0.0
        if args.skip_broker
        else await broker_pass(bootstrap, work.orders + work.customers, args.partitions)
    )
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as workdir:
        try:
            result = await run_pass(
                bootstrap, server_url, work, partitions=args.partitions, workdir=Path(workdir)
            )
        except Exception:
            log = Path(workdir) / "analytics.log"
            if log.exists():
                sys.stderr.write(log.read_text()[-5000:])
            raise
    sys.stdout.write(report(result, work, broker, partitions=args.partitions) + "\n")
    sys.stdout.write(
        json.dumps(
            {
                "orders": len(work.last_versions),
                "order_events": result.order_events,
                "customer_events": result.customer_events,
                "merges": work.merges,
                "broker_msgs_per_s": round(broker),
                "order_events_per_s": round(result.order_events / max(result.facts_seconds, 1e-3)),
                "order_events_per_s_end_to_end": round(
                    result.order_events / result.facts_end_to_end
                ),
                "end_to_end_s": round(result.all_end_to_end, 1),
                "published_s": round(result.published_seconds, 1),
                "cpu_s": round(result.cpu_seconds, 1),
                "rss_peak_mb": round(result.rss_peak_mb),
                "mismatched": result.mismatched,
                "load": result.load,
            }
        )
        + "\n"
    )
    if result.mismatched:
        raise SystemExit(f"{result.mismatched} facts name another customer than the events say")


if __name__ == "__main__":
    asyncio.run(main())
