"""Campaign's streaming segments: backfilling a new segment over many customers, and the
latency from an order's publication to the `crm.segment.entered` it causes.

Starts the campaign app in this process (its lifespan: migrations, consumers, outbox relay,
the periodic scan) on a scratch database and topics of its own. Seeds `--customers` customers
straight into its tables with COPY (a profile, an attributed order key per order, and
`--orders` past orders each, spread over two years, as the consumers would have stored them).

1. Backfill: creates "2+ orders in the last 365 days, one of them of SKU-7" through the HTTP
   API and waits until its status is `live`; reports the time and the member count.
2. Latency: creates "ordered SKU-NEW in the last day", then publishes `crm.order.placed` events
   for orders of seeded customers at `--rate` events per second for `--seconds`, and reads
   crm.segments.v1: for each entry, the time from the order's publication to the entered
   event's arrival. Reports p50, p99 and the max.

    uv run python bench/bench_segments.py --customers 100000 --rate 500 --seconds 20
"""

import argparse
import asyncio
import os
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import _harness as harness
import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from asgi_lifespan import LifespanManager
from campaign.config import Settings
from campaign.main import create_app
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.envelope import to_json_bytes
from crm_events.order import ORDER_PLACED

SKUS = [f"SKU-{n}" for n in range(50)]
BACKFILLED = {
    "kind": "and",
    "conditions": [
        {"kind": "event", "name": "order_placed", "in_last": "P365D", "value": 2},
        {
            "kind": "event",
            "name": "order_placed",
            "where": [{"property": "sku", "op": "eq", "value": "SKU-7"}],
            "value": 1,
        },
    ],
}
STREAMED = {
    "kind": "event",
    "name": "order_placed",
    "in_last": "P1D",
    "where": [{"property": "sku", "op": "eq", "value": "SKU-NEW"}],
    "value": 1,
}


def customer_id(n: int) -> str:
    return f"c{n:08d}"


async def seed(url: str, customers: int, orders: int, seed_: int) -> None:
    rng = random.Random(seed_)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(
            "segment_profiles",
            records=((customer_id(n), "{}", 1, None, False) for n in range(customers)),
            columns=["customer_id", "profile", "version", "merged_into", "erased"],
        )
        owners = [
            (f"order:o{n}-{k}", customer_id(n)) for n in range(customers) for k in range(orders + 1)
        ]
        await connection.copy_records_to_table(
            "behaviour_owners", records=owners, columns=["owner_key", "customer_id"]
        )
        facts = (
            (
                f"order_placed:o{n}-{k}",
                f"order:o{n}-{k}",
                "order_placed",
                now - timedelta(days=rng.uniform(0, 730)),
                [rng.choice(SKUS)],
                Decimal(rng.randint(10, 300)),
                "EUR",
                "demo",
            )
            for n in range(customers)
            for k in range(orders)
        )
        await connection.copy_records_to_table(
            "behaviour_facts",
            records=facts,
            columns=["fact_id", "owner_key", "name", "at", "skus", "total", "currency", "store_id"],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def create_live(http: httpx.AsyncClient, definition: dict[str, Any]) -> tuple[str, float]:
    started = time.perf_counter()
    created = await http.post("/v1/segments", json={"name": "bench", "definition": definition})
    created.raise_for_status()
    segment_id: str = created.json()["segment_id"]
    while (await http.get(f"/v1/segments/{segment_id}")).json()["status"] != "live":
        await asyncio.sleep(0.2)
    return segment_id, time.perf_counter() - started


def order_event(n: int, orders: int) -> tuple[bytes, bytes]:
    order_id = f"o{n}-{orders}"
    example = ORDER_PLACED.example
    at = datetime.now(UTC)
    data = {
        **example,
        "order_id": order_id,
        "external_id": order_id,
        "placed_at": at,
        "updated_at": at,
        "lines": [{**example["lines"][0], "sku": "SKU-NEW"}],
    }
    event = ORDER_PLACED.event(ORDER_PLACED.model.model_validate(data), source="bench")
    return order_id.encode(), to_json_bytes(event)


async def run(args: argparse.Namespace) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    server = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    suffix = secrets.token_hex(4)
    topics = {
        name: f"bench.{name}.{suffix}" for name in ("customers", "orders", "carts", "segments")
    }
    private, public = ensure_key_pair(Path(tempfile.mkdtemp()))
    async with harness.fresh_database(server, "bench_segments") as url:
        settings = Settings(
            database_url=url,
            kafka_bootstrap_servers=bootstrap,
            jwt_public_key=public.read_text(),
            customers_topic=topics["customers"],
            orders_topic=topics["orders"],
            carts_topic=topics["carts"],
            segments_topic=topics["segments"],
            messages_topic=f"bench.messages.{suffix}",
            consumer_group_prefix=f"bench-{suffix}",
            rate_limit_per_token=0,
        )
        app = create_app(settings)
        token = issue_token(private.read_text(), subject="bench", roles=["admin"])
        try:
            async with (
                LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app),
                    base_url="http://campaign",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=600,
                ) as http,
            ):
                started = time.perf_counter()
                await seed(url, args.customers, args.orders, args.seed)
                report(
                    f"seeded {args.customers} customers, {args.customers * args.orders} orders "
                    f"in {time.perf_counter() - started:.1f} s"
                )
                segment_id, seconds = await create_live(http, BACKFILLED)
                members = (await http.get(f"/v1/segments/{segment_id}")).json()["members"]
                report(
                    f"backfill of a new segment over {args.customers} customers: {seconds:.1f} s "
                    f"({args.customers / seconds:,.0f} customers/s), {members} members"
                )
                await create_live(http, STREAMED)
                latencies = await measure_latency(bootstrap, topics, args)
                report(
                    f"membership latency at {args.rate}/s over {len(latencies)} entries: "
                    f"p50 {harness.percentile(latencies, 0.5) * 1000:.0f} ms, "
                    f"p99 {harness.percentile(latencies, 0.99) * 1000:.0f} ms, "
                    f"max {max(latencies) * 1000:.0f} ms"
                )
        finally:
            await harness.delete_topics(
                bootstrap, [*topics.values(), *(f"{t}.dlq" for t in topics.values())]
            )


async def measure_latency(
    bootstrap: str, topics: dict[str, str], args: argparse.Namespace
) -> list[float]:
    consumer = AIOKafkaConsumer(
        topics["segments"],
        bootstrap_servers=bootstrap,
        group_id=f"bench-feed-{secrets.token_hex(4)}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await consumer.start()
    await producer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)
    await consumer.seek_to_end()
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    total = args.rate * args.seconds
    customers = random.Random(args.seed + 1).sample(range(args.customers), total)

    async def publish() -> None:
        start = time.perf_counter()
        for index, n in enumerate(customers):
            delay = start + index / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key, value = order_event(n, args.orders)
            sent[customer_id(n)] = time.perf_counter()
            await producer.send(topics["orders"], value, key=key)

    async def read() -> None:
        deadline = time.perf_counter() + args.seconds + 60
        while len(arrived) < total and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = orjson.loads(record.value)
                    if event["type"] == "crm.segment.entered":
                        arrived.setdefault(event["subject"], now)

    try:
        await asyncio.gather(publish(), read())
    finally:
        await producer.stop()
        await consumer.stop()
    return [arrived[c] - sent[c] for c in arrived if c in sent]


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=4, help="past orders per customer")
    parser.add_argument("--rate", type=int, default=500, help="order events per second")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
