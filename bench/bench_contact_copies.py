"""The customer copies of campaign (PostgreSQL) and support-ticket (MongoDB wire) fed by
crm.customers.v1.

Starts the service as its own process (as `make up` runs it) on a scratch database and topics
of its own, publishes `--events` realistic crm.customers.v1 events to its customers topic as fast
as an aiokafka producer can, and waits until every effect is stored: each applied event is
recorded in the service's `processed_events`, so the count of records of the benchmark's events,
polled every `POLL_SECONDS`, grows as they are applied. Events the service keeps nothing of
(identity links) are consumed too but leave no record, so they are not waited for.

The events, built with the contract models (`crm_events.customer`): one `created` per customer,
then `updated` events of random customers with their next version, identity links, merges of a
customer into another (no event names the merged customer afterwards, as customer-profile
promises) and a few erasures. Keyed by customer id (by the merged customer for a merge), as
customer-profile publishes them.

Beside it, the broker's own rate for the same payloads (one plain producer and one consumer over
a scratch topic), and for the service's process: CPU seconds (user + system from
/proc/<pid>/stat) and peak resident memory (VmHWM); for support-ticket also the CPU seconds the
MongoDB-wire server (FerretDB) used meanwhile.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_contact_copies.py --service campaign --events 20000
    uv run python bench/bench_contact_copies.py --service support-ticket --events 2000
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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from crm_common.contracts import EventContract
from crm_common.devtoken import ensure_key_pair
from crm_common.envelope import to_json_bytes
from crm_common.kafka import dlq_topic, ensure_topics
from crm_events.customer import (
    CUSTOMER_CREATED,
    CUSTOMER_ERASED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_MERGED,
    CUSTOMER_UPDATED,
)
from pymongo import AsyncMongoClient

POLL_SECONDS = 0.5
BASE = datetime(2026, 11, 1, 10, tzinfo=UTC)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FERRETDB_PID_FILE = Path(__file__).resolve().parents[1] / ".local" / "run" / "ferretdb.pid"


@dataclass(frozen=True)
class Payload:
    key: bytes
    value: bytes
    event_id: str
    recorded: bool
    """Whether the service records the event as applied (it keeps nothing of identity links)."""


def payloads(count: int, seed: int) -> list[Payload]:
    """`count` crm.customers.v1 events: about one customer per three events."""
    rng = random.Random(seed)
    customers = max(2, count // 3)
    versions: dict[str, int] = {}
    live: list[str] = []
    result: list[Payload] = []

    def add(contract: EventContract[Any], key: str, recorded: bool = True, **data: Any) -> None:
        event = contract.event(contract.model.model_validate(data), source="customer-profile")
        result.append(Payload(key.encode(), to_json_bytes(event), event.id, recorded))

    def snapshot(customer_id: str, at: datetime) -> dict[str, Any]:
        number = int(customer_id.rsplit("-", 1)[1])
        return {
            "customer_id": customer_id,
            "email": f"person{number}.v{versions[customer_id]}@example.com",
            "phone": f"+1415{number % 10_000_000:07d}",
            "first_name": f"First{number}",
            "last_name": f"Last{number}",
            "accepts_marketing": rng.random() < 0.4,
            "created_at": BASE,
            "updated_at": at,
            "version": versions[customer_id],
        }

    while len(result) < count:
        at = BASE + timedelta(seconds=len(result))
        roll = rng.random()
        if len(versions) < customers and (roll < 0.35 or len(live) < 2):
            customer_id = f"cust-{seed}-{len(versions)}"
            versions[customer_id] = 1
            live.append(customer_id)
            add(CUSTOMER_CREATED, customer_id, **snapshot(customer_id, at))
        elif roll < 0.42:
            customer_id = rng.choice(live)
            add(
                CUSTOMER_IDENTITY_LINKED,
                customer_id,
                recorded=False,
                customer_id=customer_id,
                identity={"kind": "store_ref", "value": f"c-{customer_id}", "store_id": "s-1"},
            )
        elif roll < 0.445:
            survivor, merged = rng.sample(live, 2)
            live.remove(merged)
            add(
                CUSTOMER_MERGED,
                merged,
                merge_id=f"merge-{merged}",
                survivor_id=survivor,
                merged_id=merged,
                merged_at=at,
                reason="manual",
            )
        elif roll < 0.447:
            customer_id = rng.choice(live)
            live.remove(customer_id)
            add(CUSTOMER_ERASED, customer_id, customer_id=customer_id, erased_at=at)
        else:
            customer_id = rng.choice(live)
            versions[customer_id] += 1
            add(CUSTOMER_UPDATED, customer_id, **snapshot(customer_id, at))
    return result


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )


async def produce(bootstrap: str, topic: str, messages: Sequence[Payload]) -> None:
    producer = _producer(bootstrap)
    await producer.start()
    try:
        pending = [await producer.send(topic, m.value, key=m.key) for m in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def broker_rate(bootstrap: str, messages: Sequence[Payload], partitions: int) -> float:
    """Messages per second through one plain producer and one consumer, first send to last
    received."""
    topic = f"bench.scratch.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, [topic], partitions=partitions)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()

    async def read_all() -> None:
        received = 0
        while received < len(messages):
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            received += sum(len(records) for records in batch.values())

    try:
        started = time.monotonic()
        reader = asyncio.create_task(read_all())
        await produce(bootstrap, topic, messages)
        await asyncio.wait_for(reader, 300)
        return len(messages) / (time.monotonic() - started)
    finally:
        await consumer.stop()
        await harness.delete_topics(bootstrap, [topic, dlq_topic(topic)])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process `pid` so far."""
    # The command name (field 2) may hold spaces: count the fields after its closing paren.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ferretdb_pid() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        pid = int(FERRETDB_PID_FILE.read_text().split()[0])
        if Path(f"/proc/{pid}").exists():
            return pid
    return None


@contextlib.asynccontextmanager
async def service_process(
    name: str, module: str, env: dict[str, str], port: int, log_path: Path
) -> AsyncIterator[int]:
    """The service in a process of its own; yields its pid once it is ready."""
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-c", f"from {module}.main import run; run()"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                deadline = time.monotonic() + 90
                while True:
                    if child.poll() is not None:
                        raise RuntimeError(f"{name} exited; see {log_path}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/health/ready")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not ready after 90s; see {log_path}")
                    await asyncio.sleep(0.2)
            yield child.pid
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


Count = Callable[[], Awaitable[int]]


@dataclass
class Result:
    service: str
    events: int
    recorded: int
    seconds: float
    """From the first send to the poll that saw every effect stored."""
    cpu_seconds: float
    peak_rss_mb: float
    server_cpu_seconds: float | None = None


async def measure(
    name: str,
    module: str,
    env: dict[str, str],
    port: int,
    workdir: Path,
    bootstrap: str,
    topic: str,
    messages: Sequence[Payload],
    count: Count,
) -> Result:
    expected = sum(m.recorded for m in messages)
    server = ferretdb_pid() if name == "support-ticket" else None
    async with service_process(name, module, env, port, workdir / f"{name}.log") as pid:
        cpu_before = cpu_seconds(pid)
        server_before = cpu_seconds(server) if server else 0.0
        started = time.monotonic()
        await produce(bootstrap, topic, messages)
        deadline = started + max(600, len(messages) / 5)
        while (stored := await count()) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{stored} of {expected} effects stored")
            await asyncio.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
        return Result(
            name,
            len(messages),
            expected,
            seconds,
            cpu_seconds(pid) - cpu_before,
            peak_rss_mb(pid),
            cpu_seconds(server) - server_before if server else None,
        )


async def campaign_pass(
    bootstrap: str, server_url: str, messages: Sequence[Payload], partitions: int, workdir: Path
) -> Result:
    suffix = secrets.token_hex(4)
    customers_topic, messages_topic = f"bench.crm.customers.{suffix}", f"bench.crm.msgs.{suffix}"
    _, public_key = ensure_key_pair(workdir / "jwt")
    port = harness.free_port()
    await ensure_topics(bootstrap, [customers_topic], partitions=partitions)
    try:
        async with harness.fresh_database(server_url, "bench_campaign") as database_url:
            env = {
                "CAMPAIGN_DATABASE_URL": database_url,
                "CAMPAIGN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CAMPAIGN_KAFKA_TOPIC_PARTITIONS": str(partitions),
                "CAMPAIGN_CUSTOMERS_TOPIC": customers_topic,
                "CAMPAIGN_MESSAGES_TOPIC": messages_topic,
                "CAMPAIGN_CONSUMER_GROUP_PREFIX": f"bench-campaign-{suffix}",
                "CAMPAIGN_JWT_PUBLIC_KEY_FILE": str(public_key),
                "CAMPAIGN_HTTP_PORT": str(port),
            }
            connection = await asyncpg.connect(database_url)
            try:

                async def count() -> int:
                    return int(await connection.fetchval("SELECT count(*) FROM processed_events"))

                return await measure(
                    "campaign",
                    "campaign",
                    env,
                    port,
                    workdir,
                    bootstrap,
                    customers_topic,
                    messages,
                    count,
                )
            finally:
                await connection.close()
    finally:
        await harness.delete_topics(
            bootstrap,
            [t for topic in (customers_topic, messages_topic) for t in (topic, dlq_topic(topic))],
        )


async def support_ticket_pass(
    bootstrap: str, mongodb_url: str, messages: Sequence[Payload], partitions: int, workdir: Path
) -> Result:
    suffix = secrets.token_hex(4)
    customers_topic, tickets_topic = f"bench.crm.customers.{suffix}", f"bench.crm.tickets.{suffix}"
    database = f"bench_support_ticket_{suffix}"
    _, public_key = ensure_key_pair(workdir / "jwt")
    port = harness.free_port()
    await ensure_topics(bootstrap, [customers_topic], partitions=partitions)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        env = {
            "SUPPORT_TICKET_MONGODB_URL": mongodb_url,
            "SUPPORT_TICKET_MONGODB_DATABASE": database,
            "SUPPORT_TICKET_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SUPPORT_TICKET_KAFKA_TOPIC_PARTITIONS": str(partitions),
            "SUPPORT_TICKET_CUSTOMERS_TOPIC": customers_topic,
            "SUPPORT_TICKET_TICKETS_TOPIC": tickets_topic,
            "SUPPORT_TICKET_CONSUMER_GROUP_PREFIX": f"bench-support-ticket-{suffix}",
            "SUPPORT_TICKET_JWT_PUBLIC_KEY_FILE": str(public_key),
            "SUPPORT_TICKET_HTTP_PORT": str(port),
        }

        async def count() -> int:
            # The database is the benchmark's own: every record in it is one of its events.
            return await client[database]["processed_events"].count_documents({})

        return await measure(
            "support-ticket",
            "support_ticket",
            env,
            port,
            workdir,
            bootstrap,
            customers_topic,
            messages,
            count,
        )
    finally:
        await client.drop_database(database)
        await client.close()
        await harness.delete_topics(
            bootstrap,
            [t for topic in (customers_topic, tickets_topic) for t in (topic, dlq_topic(topic))],
        )


def report(result: Result, broker: float, partitions: int) -> str:
    rate = result.events / max(result.seconds, 1e-3)
    lines = [
        f"{result.service} benchmark: {result.events:,} crm.customers.v1 events "
        f"({result.recorded:,} with an effect), {partitions} partitions; load {_loadavg()}",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| broker msgs/s (plain producer + consumer) | {broker:,.0f} |",
        f"| {result.service} events/s (first send to every effect stored) | {rate:,.0f} |",
        f"| {result.service} CPU s (user + system) | {result.cpu_seconds:,.1f} |",
        f"| {result.service} CPU µs per event | {result.cpu_seconds / result.events * 1e6:,.0f} |",
        f"| {result.service} peak RSS MB | {result.peak_rss_mb:,.0f} |",
    ]
    if result.server_cpu_seconds is not None:
        lines.append(f"| FerretDB CPU s meanwhile | {result.server_cpu_seconds:,.1f} |")
    return "\n".join(lines)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--service", choices=["campaign", "support-ticket"], default="campaign")
    parser.add_argument("--events", type=int, default=20_000, help="events to publish")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the topic")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    messages = payloads(args.events, args.seed)
    broker = await broker_rate(bootstrap, messages, args.partitions)
    with tempfile.TemporaryDirectory(prefix="bench-contact-copies-") as workdir:
        try:
            if args.service == "campaign":
                server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
                result = await campaign_pass(
                    bootstrap, server_url, messages, args.partitions, Path(workdir)
                )
            else:
                mongodb_url = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")
                result = await support_ticket_pass(
                    bootstrap, mongodb_url, messages, args.partitions, Path(workdir)
                )
        except Exception:
            for log in sorted(Path(workdir).glob("*.log")):
                sys.stderr.write(f"{log.name}:\n{log.read_text()[-5000:]}\n")
            raise
    sys.stdout.write(report(result, broker, args.partitions) + "\n")
    sys.stdout.write(
        json.dumps(
            {
                "service": result.service,
                "events": result.events,
                "events_per_s": round(result.events / result.seconds),
                "broker_msgs_per_s": round(broker),
                "cpu_s": round(result.cpu_seconds, 2),
                "peak_rss_mb": round(result.peak_rss_mb),
                "ferretdb_cpu_s": (
                    None
                    if result.server_cpu_seconds is None
                    else round(result.server_cpu_seconds, 2)
                ),
                "loadavg": _loadavg(),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
