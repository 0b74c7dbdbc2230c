"""customer-profile throughput: crm.orders.v1 order events attributed to customers.

Starts customer-profile as its own process (as `make up` runs it) on a fresh database and topics
of its own, publishes `--orders` orders as `crm.order.placed` then `crm.order.paid` events (so
twice as many events) to its crm.orders.v1 topic, and waits until its consumer has applied every
event. The orders come from a pool of people who return (about two orders each), across two
stores, with the email in varying case, the phone in varying formats and the shop's customer
reference, so the consumer links identities, finds returning customers and merges some.

The consumer's rate comes from its own database: each applied event is claimed in
`processed_events` in the transaction that applies it, so the count of claims, polled every
0.2 s, grows as events are applied: from the first poll seeing one to the poll seeing them all
is how long applying took (the first transaction's own time is left out).

With `--import-rows N` it then also imports N contacts (CSV, through `POST
/v1/customers:import` on the same service, about a third of them people the orders already
made customers of) and reports rows per second.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_customer_profile.py --orders 5000 --import-rows 2000
    uv run python bench/bench_customer_profile.py --import-rows 0     # the consumer alone
"""

import argparse
import asyncio
import base64
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import dlq_topic, ensure_topics
from crm_events.shop import CANONICAL_ORDER_EXAMPLE

CONSUMER = "customer-profile.customers"
POLL_SECONDS = 0.2
BASE = datetime(2026, 11, 1, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Payload:
    key: bytes
    value: bytes


def _contact(person: int, rng: random.Random) -> dict[str, Any]:
    """How one order names person `person`: the same person, written differently each time."""
    email = f"person{person}@example.com"
    digits = f"{person % 10_000:04d}"
    exchange = 200 + person // 10_000
    phone = rng.choice(
        [f"+1 415 {exchange} {digits}", f"(415) {exchange}-{digits}", f"+1415{exchange}{digits}"]
    )
    contact: dict[str, Any] = {
        "email": rng.choice([email, email.upper(), email.capitalize()]),
        "phone": phone,
        "first_name": f"First{person}",
        "last_name": f"Last{person}",
        "accepts_marketing": rng.random() < 0.4,
    }
    # Some orders lack the email or the phone: those link by the other identities, and an order
    # bringing both to two customers known by one each merges them.
    roll = rng.random()
    if roll < 0.1:
        contact["email"] = None
    elif roll < 0.2:
        contact["phone"] = None
    return contact


def payloads(count: int, seed: int) -> tuple[list[Payload], int]:
    """`count` orders, each a placed and a paid event; returns them and how many events."""
    rng = random.Random(seed)
    people = max(1, count // 2)
    stores = [f"bench-a-{seed}", f"bench-b-{seed}"]
    placed: list[Payload] = []
    paid: list[Payload] = []
    for number in range(count):
        person = (
            min(int(rng.paretovariate(1.2)) - 1, people - 1)
            if rng.random() < 0.3
            else (rng.randrange(people))
        )
        store = rng.choice(stores)
        at = BASE + timedelta(seconds=number)
        order_id = f"bench-{seed}-{number}"
        customer = {**_contact(person, rng), "external_id": f"c-{person}"}
        order = {
            **CANONICAL_ORDER_EXAMPLE,
            "store_id": store,
            "external_id": str(5_000_000_000_000_000 + number),
            "placed_at": at.isoformat(),
            "updated_at": at.isoformat(),
            "financial_status": "pending",
            "customer": customer,
            "order_id": order_id,
            "net_paid": "0",
            "version": 1,
            "store_country": "US",
        }
        paid_order = {
            **order,
            "financial_status": "paid",
            "net_paid": order["total"],
            "updated_at": (at + timedelta(minutes=5)).isoformat(),
            "version": 2,
        }
        for target, event_type, data in (
            (placed, "crm.order.placed", order),
            (paid, "crm.order.paid", paid_order),
        ):
            event = CloudEvent[dict[str, Any]](
                source="order-sync", type=event_type, subject=order_id, data=data
            )
            target.append(Payload(order_id.encode(), to_json_bytes(event)))
    # Every placed event before the paid ones: the paid event of an order always finds it.
    messages = placed + paid
    return messages, len(messages)


async def produce(bootstrap: str, topic: str, messages: Sequence[Payload]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        pending = [await producer.send(topic, m.value, key=m.key) for m in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def service_process(env: dict[str, str], log_path: Path) -> AsyncIterator[int]:
    """customer-profile in a process of its own; yields its pid once it is ready."""
    base_url = f"http://127.0.0.1:{env['CUSTOMER_PROFILE_HTTP_PORT']}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from customer_profile.main import run; run()"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=base_url) as client:
                deadline = time.monotonic() + 90
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"customer-profile exited; see {log_path}")
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


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    events: int
    orders: int
    seconds: float
    end_to_end_seconds: float
    customers: int
    merges: int
    cpu_seconds: float = 0.0
    import_rows: int = 0
    import_seconds: float = 0.0


async def wait_applied(
    database_url: str, expected: int, started: float, timeout: float
) -> tuple[float, float]:
    """Poll until `expected` events are applied; returns (seconds from the first committed
    claim seen to the last, seconds since `started`). Claims commit with the events they apply
    (one at a time or a batch at a time), so the count only grows as events are applied."""
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        first_seen: float | None = None
        while True:
            count = await connection.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = $1", CONSUMER
            )
            now = time.monotonic()
            if count and first_seen is None:
                first_seen = now
            if count >= expected:
                break
            if now > deadline:
                raise TimeoutError(f"{count} of {expected} events applied after {timeout}s")
            await asyncio.sleep(POLL_SECONDS)
        assert first_seen is not None
        return now - first_seen, now - started
    finally:
        await connection.close()


async def run_pass(
    bootstrap: str,
    server_url: str,
    messages: Sequence[Payload],
    orders: int,
    *,
    partitions: int,
    import_rows: int,
    workdir: Path,
) -> Result:
    suffix = secrets.token_hex(4)
    orders_topic, customers_topic = f"bench.crm.orders.{suffix}", f"bench.crm.customers.{suffix}"
    private_key, public_key = ensure_key_pair(workdir / "jwt")
    await ensure_topics(bootstrap, [orders_topic], partitions=partitions)
    try:
        async with harness.fresh_database(server_url, "bench_customer_profile") as database_url:
            env = {
                "CUSTOMER_PROFILE_DATABASE_URL": database_url,
                "CUSTOMER_PROFILE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CUSTOMER_PROFILE_KAFKA_TOPIC_PARTITIONS": str(partitions),
                "CUSTOMER_PROFILE_ORDERS_TOPIC": orders_topic,
                "CUSTOMER_PROFILE_CUSTOMERS_TOPIC": customers_topic,
                "CUSTOMER_PROFILE_CONSUMER_GROUP": f"bench-customer-profile-{suffix}",
                "CUSTOMER_PROFILE_JWT_PUBLIC_KEY_FILE": str(public_key),
                "CUSTOMER_PROFILE_HTTP_PORT": str(harness.free_port()),
                "CUSTOMER_PROFILE_SCORING_NIGHTLY": "false",
                # A key of the benchmark's own, for a service that encrypts personal data.
                "CUSTOMER_PROFILE_PII_KEYS": json.dumps(
                    {"bench": base64.b64encode(secrets.token_bytes(32)).decode()}
                ),
                "CUSTOMER_PROFILE_PII_ACTIVE_KEY": "bench",
                "CUSTOMER_PROFILE_PII_LOOKUP_KEY": base64.b64encode(
                    secrets.token_bytes(32)
                ).decode(),
            }
            async with service_process(env, workdir / "customer-profile.log") as pid:
                started = time.monotonic()
                cpu_before = cpu_seconds(pid)
                await produce(bootstrap, orders_topic, messages)
                seconds, end_to_end = await wait_applied(
                    database_url, len(messages), started, timeout=max(600, len(messages) / 5)
                )
                cpu = cpu_seconds(pid) - cpu_before
                import_seconds = 0.0
                if import_rows:
                    token = issue_token(private_key.read_text(), subject="bench", roles=["admin"])
                    import_seconds = await import_contacts(
                        f"http://127.0.0.1:{env['CUSTOMER_PROFILE_HTTP_PORT']}",
                        token,
                        import_rows,
                        people=orders // 2,
                    )
            connection = await asyncpg.connect(database_url)
            try:
                customers = await connection.fetchval(
                    "SELECT count(*) FROM customers WHERE merged_into IS NULL"
                )
                merges = await connection.fetchval(
                    "SELECT count(*) FROM merge_log WHERE action = 'merge'"
                )
            finally:
                await connection.close()
    finally:
        await harness.delete_topics(
            bootstrap,
            [t for topic in (orders_topic, customers_topic) for t in (topic, dlq_topic(topic))],
        )
    return Result(
        len(messages),
        orders,
        seconds,
        end_to_end,
        customers,
        merges,
        cpu,
        import_rows,
        import_seconds,
    )


def contacts_csv(rows: int, people: int) -> bytes:
    """`rows` contacts: a third of them people of the orders (linked, not created), the rest new
    prospects, with tags and a consent on some."""
    lines = ["email,first_name,last_name,phone,accepts_marketing,tags"]
    for number in range(rows):
        if number % 3 == 0 and people:
            email = f"person{number % people}@example.com"
        else:
            email = f"prospect{number}@example.com"
        phone = f"+1 212 4{number // 1000 % 100:02d} {number % 1000:03d}1"
        tags = '"imported, bench"' if number % 4 == 0 else ""
        lines.append(f"{email},Pro{number},Spect,{phone},{number % 2 == 0},{tags}")
    return ("\n".join(lines) + "\n").encode()


async def import_contacts(base_url: str, token: str, rows: int, *, people: int) -> float:
    """Seconds to import `rows` contacts in one request."""
    body = contacts_csv(rows, people)
    async with httpx.AsyncClient(base_url=base_url, timeout=3600) as client:
        started = time.monotonic()
        response = await client.post(
            "/v1/customers:import",
            content=body,
            headers={"Authorization": f"Bearer {token}", "content-type": "text/csv"},
        )
        response.raise_for_status()
        report = response.json()
        if report["failed"]:
            raise RuntimeError(f"the import reported errors: {report['errors'][:3]}")
        return time.monotonic() - started


def report(result: Result, *, partitions: int) -> str:
    rate = result.events / max(result.seconds, 1e-3)
    lines = [
        f"customer-profile benchmark: {result.orders:,} orders ({result.events:,} events), "
        f"{partitions} partitions",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| events applied/s (first to last committed) | {rate:,.1f} |",
        f"| orders/s (two events each) | {rate / 2:,.1f} |",
        f"| end to end s (first send to last applied) | {result.end_to_end_seconds:,.1f} |",
        f"| service CPU ms/event | {1000 * result.cpu_seconds / result.events:,.2f} |",
        f"| customers | {result.customers:,} |",
        f"| merges | {result.merges:,} |",
    ]
    if result.import_rows:
        lines.append(
            f"| import rows/s ({result.import_rows:,} rows, one request) "
            f"| {result.import_rows / max(result.import_seconds, 1e-3):,.0f} |"
        )
    return "\n".join(lines)


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=2_000, help="orders (two events each)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the topic")
    parser.add_argument("--import-rows", type=int, default=1_000, help="contacts to import after")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    messages, _ = payloads(args.orders, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-customer-profile-") as workdir:
        try:
            result = await run_pass(
                bootstrap,
                server_url,
                messages,
                args.orders,
                partitions=args.partitions,
                import_rows=args.import_rows,
                workdir=Path(workdir),
            )
        except Exception:
            log = Path(workdir) / "customer-profile.log"
            if log.exists():
                sys.stderr.write(log.read_text()[-5000:])
            raise
    sys.stdout.write(report(result, partitions=args.partitions) + "\n")
    rate = result.events / max(result.seconds, 1e-3)
    sys.stdout.write(
        json.dumps(
            {
                "orders": result.orders,
                "events": result.events,
                "events_per_s": round(rate, 1),
                "orders_per_s": round(rate / 2, 1),
                "end_to_end_s": round(result.end_to_end_seconds, 1),
                "cpu_ms_per_event": round(1000 * result.cpu_seconds / result.events, 2),
                "customers": result.customers,
                "merges": result.merges,
                "import_rows_per_s": (
                    round(result.import_rows / result.import_seconds)
                    if result.import_seconds
                    else None
                ),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
