"""The whole suite replaying a shop's history: how long until every service's view is complete.

Starts the suite as `make up` does (`deploy/local/services.sh up`, reusing running services),
registers a store of this run's own, and publishes a generated history to `shop.orders.v1` as
fast as one producer can: `--orders` orders (70,000) from `--customers` customers (24,000) over 18
months, with repeat purchases skewed towards loyal customers, a share refunded and a few orders
carrying two customers' identities (which merges them). Generated with a fixed seed.

Then it polls each service's own store until its view is complete: order-sync's orders,
customer-profile's attributed orders, analytics' order facts, campaign's contacts and
support-ticket's customer copies (its consumer group having nothing left to apply). It prints,
per service, the seconds from the first record sent until complete, the CPU seconds the
service's process used meanwhile (`/proc/<pid>/stat`) and its peak resident memory (`VmHWM`),
and beside them the broker alone: the same records through one plain producer and consumer on a
scratch topic.

    uv run python bench/bench_suite_replay.py --orders 10000 --customers 3400
"""

import argparse
import asyncio
import os
import random
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import ensure_topics
from crm_events import topics

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2025, 5, 1, tzinfo=UTC)
MONTHS = 18
POLL_SECONDS = 1.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = ("order-sync", "customer-profile", "campaign", "support-ticket", "analytics")
SUPPORT_TICKET_GROUP = "support_ticket.customers"


@dataclass(frozen=True)
class History:
    records: list[tuple[bytes, bytes]]
    """(key, CloudEvent) per order, in the order sent."""
    customers: int
    """Customers that exist once every order is applied, merged ones included."""
    merges: int


def generate(store_id: str, domain: str, orders: int, customers: int, seed: int) -> History:
    """Orders from returning customers: each customer's share follows a long tail."""
    rng = random.Random(seed)
    weights = [1 / (1 + rank) ** 0.8 for rank in range(customers)]
    buyers = rng.choices(range(customers), weights=weights, k=orders)
    # Every customer orders at least once, so each exists in every service's view.
    buyers[:customers] = range(customers)
    rng.shuffle(buyers)
    span = timedelta(days=30 * MONTHS)
    times = sorted(START + span * rng.random() for _ in range(orders))
    # In the last fifth, a few orders name their buyer's shop account with another customer's
    # email (both known by then): customer-profile merges the two.
    merging = set(rng.sample(range(orders * 4 // 5, orders), k=max(1, orders // 2000)))
    known: list[int] = []
    seen: set[int] = set()
    merges = 0
    records = []
    for number, (buyer, placed) in enumerate(zip(buyers, times, strict=True)):
        customer: dict[str, Any] = {
            "external_id": f"c-{buyer}",
            "email": f"c{buyer}@{domain}",
            "first_name": "Ann",
            "last_name": f"Lee{buyer}",
        }
        if number in merging and buyer in seen:
            other = rng.choice(known)
            if other != buyer:
                customer["email"] = f"c{other}@{domain}"
                merges += 1
        if buyer not in seen:
            seen.add(buyer)
            known.append(buyer)
        total = rng.choice(("12.50", "32.00", "48.90", "75.00", "120.00"))
        refunded = rng.random() < 0.03
        order = {
            "store_id": store_id,
            "external_id": f"r-{number}",
            "placed_at": placed.isoformat().replace("+00:00", "Z"),
            "updated_at": placed.isoformat().replace("+00:00", "Z"),
            "currency": "USD",
            "financial_status": "refunded" if refunded else "paid",
            "fulfillment_status": "fulfilled",
            "cancelled_at": None,
            "customer": customer,
            "lines": [{"sku": "MUG-1", "name": "Mug", "quantity": 1, "unit_price": total}],
            "discount_total": "0.00",
            "shipping_total": "0.00",
            "tax_total": "0.00",
            "total": total,
        }
        event = CloudEvent[dict[str, Any]](
            source=f"shop/{store_id}", type="shop.order.upserted", data=order
        )
        records.append((order["external_id"].encode(), to_json_bytes(event)))
    return History(records, customers=customers, merges=merges)


async def support_ticket_applied(bootstrap: str, customers: int) -> int:
    """`customers` once support-ticket's consumer group has applied all of crm.customers.v1
    there is (0 before)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=SUPPORT_TICKET_GROUP)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topics.CRM_CUSTOMERS, p)
            for p in consumer.partitions_for_topic(topics.CRM_CUSTOMERS)
            or await _partitions(consumer)
        ]
        ends = await consumer.end_offsets(partitions)
        lag = 0
        for partition in partitions:
            lag += ends[partition] - (await consumer.committed(partition) or 0)
    finally:
        await consumer.stop()
    return customers if lag == 0 else 0


async def _partitions(consumer: AIOKafkaConsumer) -> set[int]:
    await consumer.topics()
    return consumer.partitions_for_topic(topics.CRM_CUSTOMERS) or set()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def service_pids() -> dict[str, int]:
    return {name: int((ROOT / f".local/run/{name}.pid").read_text()) for name in SERVICES}


async def broker_alone(bootstrap: str, records: list[tuple[bytes, bytes]]) -> float:
    """Seconds for one producer and one consumer to carry the records on a scratch topic."""
    topic = f"bench.replay.plain.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, [topic], partitions=3)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    try:
        started = time.monotonic()
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
        received = 0
        while received < len(records):
            batch = await consumer.getmany(timeout_ms=1000)
            received += sum(len(part) for part in batch.values())
        return time.monotonic() - started
    finally:
        await producer.stop()
        await consumer.stop()
        await harness.delete_topics(bootstrap, [topic, f"{topic}.dlq"])


async def replay(args: argparse.Namespace) -> None:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    postgres = os.environ["POSTGRES_URL"]
    run = secrets.token_hex(4)
    store_id, domain = f"replay-{run}", f"replay-{run}.example.com"
    history = generate(store_id, domain, args.orders, args.customers, args.seed)
    subprocess.run([ROOT / "deploy/local/services.sh", "up"], check=True, stdout=subprocess.DEVNULL)
    private_key, _ = ensure_key_pair(ROOT / ".local/jwt")
    token = issue_token(private_key.read_text(), subject="bench", roles=["admin"])
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8001") as client:
        response = await client.post(
            "/v1/stores",
            json={"store_id": store_id, "platform": "custom", "name": "Replay", "currency": "USD"},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()

    databases = {
        name: await asyncpg.connect(harness.database_url(postgres, name))
        for name in ("order_sync", "customer_profile", "campaign", "analytics")
    }
    like = f"%@{domain}"
    views = {
        "order-sync": lambda: databases["order_sync"].fetchval(
            "SELECT count(*) FROM orders WHERE store_id = $1", store_id
        ),
        "customer-profile": lambda: databases["customer_profile"].fetchval(
            "SELECT count(*) FROM customer_orders WHERE store_id = $1", store_id
        ),
        "analytics": lambda: databases["analytics"].fetchval(
            "SELECT count(*) FROM order_facts WHERE store_id = $1", store_id
        ),
        "campaign": lambda: databases["campaign"].fetchval(
            "SELECT count(*) FROM contacts WHERE email LIKE $1", like
        ),
        # Counting documents on FerretDB scans its collection, which slows the service under
        # measurement: its consumer group having nothing left to apply, once customer-profile
        # has published every customer, is the same signal for free.
        "support-ticket": lambda: support_ticket_applied(bootstrap, expected_customers),
    }
    expected_customers = history.customers
    expected = {
        "order-sync": args.orders,
        "customer-profile": args.orders,
        "analytics": args.orders,
        "campaign": history.customers,
        "support-ticket": history.customers,
    }
    pids = service_pids()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    done: dict[str, float] = {}
    cpu_used: dict[str, float] = {}

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    started = time.monotonic()
    for key, value in history.records:
        await producer.send(topics.SHOP_ORDERS, value, key=key)
    await producer.flush()
    await producer.stop()
    sent_in = time.monotonic() - started
    deadline = started + args.timeout
    last: dict[str, int] = {}
    while len(done) < len(views) and time.monotonic() < deadline:
        for name, count in views.items():
            if name in done:
                continue
            if name == "support-ticket" and "customer-profile" not in done:
                continue
            last[name] = int(await count() or 0)
            if last[name] >= expected[name]:
                done[name] = time.monotonic() - started
                cpu_used[name] = cpu_seconds(pids[name]) - cpu_before[name]
                print(  # noqa: T201 (a benchmark's figures are its output)
                    f"  {name:17} complete after {done[name]:7.1f} s", flush=True
                )
        await asyncio.sleep(POLL_SECONDS)
    for connection in databases.values():
        await connection.close()
    alone = await broker_alone(bootstrap, history.records)

    load = Path("/proc/loadavg").read_text().split()[:3]
    print(  # noqa: T201 (a benchmark's figures are its output)
        f"replay: {args.orders} orders from {args.customers} customers ({history.merges} orders "
        f"merging two), sent in {sent_in:.1f} s; broker alone {alone:.1f} s; load {' '.join(load)}"
    )
    for name in SERVICES:
        seconds = f"{done[name]:7.1f} s" if name in done else f"  not complete: {last.get(name)}"
        cpu = cpu_used.get(name, cpu_seconds(pids[name]) - cpu_before[name])
        print(  # noqa: T201
            f"  {name:17} {seconds}  of {expected[name]:>6}  cpu {cpu:6.1f} s  "
            f"peak rss {peak_rss_mb(pids[name]):5.0f} MB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=70_000)
    parser.add_argument("--customers", type=int, default=24_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    args = parser.parse_args()
    if args.customers > args.orders:
        parser.error("every customer orders at least once: --customers must not exceed --orders")
    asyncio.run(replay(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
