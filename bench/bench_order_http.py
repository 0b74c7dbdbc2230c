"""order-sync's HTTP doors under concurrent load: Shopify webhooks and `POST /v1/orders`.

Starts order-sync as its own process (as `make up` runs it) on a fresh database and topics of
its own, registers a custom store and a Shopify store, then sends `--requests` new orders from
`--clients` concurrent clients over real HTTP to each door in turn: signed Shopify
`orders/create` webhooks (the Shopify fixture, a distinct order id each), then canonical orders
to `POST /v1/orders`. For each it prints requests per second, p50 / p99 / max latency as the
clients saw it, and when every order was applied: its `crm.order.placed` event out on
crm.orders.v1. Beside them, in the same run: the broker's plain produce rate (one aiokafka
producer, acks=all, the same records), and a bare uvicorn + FastAPI endpoint in a process of its
own that only validates a canonical order and publishes it with acks=all: the most a Python
HTTP door that stores nothing can answer on the machine, with the same clients.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_order_http.py --requests 3000 --clients 32
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _harness as harness
import httpx
from _harness import percentile
from aiokafka import AIOKafkaProducer
from bench_order_sync import collect, order_sync_process, process
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.kafka import dlq_topic, ensure_topics
from crm_events.shop import CANONICAL_ORDER_EXAMPLE
from order_sync.orders.events import order_id_for
from order_sync.webhooks import signatures

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "services/order_sync/tests/fixtures/shopify/orders_create.json"
)
SECRET = "bench-webhook-secret"


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    order_id: str


@dataclass
class Load:
    """One door under load: each request's latency, and when the last answer came."""

    started: float = 0.0
    finished: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def rate(self) -> float:
        return len(self.latencies_ms) / max(self.finished - self.started, 1e-3)


def webhooks(store_id: str, count: int) -> list[Request]:
    """`count` signed `orders/create` deliveries of distinct orders (the Shopify fixture)."""
    template = json.loads(FIXTURE.read_bytes())
    key = signatures.shopify_key(SECRET)
    result = []
    for number in range(count):
        order_id = 7_000_000_000_000_000 + number
        body = json.dumps({**template, "id": order_id}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": f"bench-{number}",
            "X-Shopify-Shop-Domain": "bench.myshopify.com",
            "X-Shopify-Hmac-Sha256": signatures.sign(key, body),
        }
        result.append(
            Request(
                f"/v1/webhooks/shopify/{store_id}",
                body,
                headers,
                order_id_for(store_id, str(order_id)),
            )
        )
    return result


def orders(store_id: str, count: int, token: str) -> list[Request]:
    """`count` distinct canonical orders for `POST /v1/orders`."""
    base = datetime(2026, 11, 1, 10, tzinfo=UTC)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    result = []
    for number in range(count):
        external_id = str(5_000_000_000_000_000 + number)
        placed = base + timedelta(seconds=number)
        order = {
            **CANONICAL_ORDER_EXAMPLE,
            "store_id": store_id,
            "external_id": external_id,
            "placed_at": placed.isoformat(),
            "updated_at": (placed + timedelta(minutes=5)).isoformat(),
            "customer": {**CANONICAL_ORDER_EXAMPLE["customer"], "external_id": f"c-{number}"},
        }
        result.append(
            Request(
                "/v1/orders",
                json.dumps(order).encode(),
                headers,
                order_id_for(store_id, external_id),
            )
        )
    return result


async def load(base_url: str, requests: Sequence[Request], clients: int) -> Load:
    """Send `requests` from `clients` concurrent clients, each one request at a time."""
    result = Load()

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            for request in queue:
                sent = time.perf_counter()
                response = await http.post(
                    request.path, content=request.body, headers=request.headers
                )
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                result.statuses[response.status_code] = (
                    result.statuses.get(response.status_code, 0) + 1
                )

    # A few requests first, so that connections and the app's caches are warm.
    warm = iter(requests[: min(clients, len(requests))])
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        for request in warm:
            await http.post(request.path, content=request.body, headers=request.headers)
    queue = iter(requests[min(clients, len(requests)) :])
    result.started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.finished = time.perf_counter()
    return result


async def broker_rate(bootstrap: str, values: Sequence[bytes]) -> float:
    """Records per second one plain producer (acks=all) gets acknowledged."""
    topic = f"bench.scratch.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, [topic], partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = [await producer.send(topic, value) for value in values]
        await asyncio.gather(*pending)
        return len(values) / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await harness.delete_topics(bootstrap, [topic])


def serve_bare(port: int, bootstrap: str, topic: str) -> None:
    """The ceiling: validate a canonical order, publish it with acks=all, answer 202."""
    import uvicorn
    from crm_events.shop import CanonicalOrder
    from fastapi import FastAPI

    producer: AIOKafkaProducer | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal producer
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        yield
        await producer.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/orders", status_code=202)
    async def submit(order: CanonicalOrder) -> dict[str, str]:
        assert producer is not None
        await producer.send_and_wait(
            topic, order.model_dump_json().encode(), key=order.external_id.encode()
        )
        return {"order_id": order.external_id, "status": "accepted"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


@contextlib.asynccontextmanager
async def bare_process(bootstrap: str, topic: str, log_path: Path) -> AsyncIterator[str]:
    port = harness.free_port()

    async def ready() -> bool:
        return log_path.exists() and b"ready" in log_path.read_bytes()

    args = [__file__, "--serve-bare", str(port), "--bootstrap", bootstrap, "--topic", topic]
    async with process("bare endpoint", args, {}, log_path, ready):
        yield f"http://127.0.0.1:{port}"


def row(name: str, run: Load, applied_s: float | None) -> str:
    applied = f"{applied_s:.1f}" if applied_s is not None else ""
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(run.statuses.items()))
    return (
        f"| {name} | {run.rate():,.0f} | {percentile(run.latencies_ms, 0.5):.1f} | "
        f"{percentile(run.latencies_ms, 0.99):.1f} | {max(run.latencies_ms):.1f} | "
        f"{applied} | {statuses} |"
    )


async def applied_after(
    bootstrap: str, topic: str, requests: Sequence[Request], run: Load
) -> float:
    """Seconds from the first request sent until every order's placed event was out."""
    placed = await collect(
        bootstrap, topic, {r.order_id for r in requests}, timeout=600, placed_only=True
    )
    # Record timestamps are epoch milliseconds; the load's clock is perf_counter.
    started_ms = (time.time() - (time.perf_counter() - run.started)) * 1000
    return (max(placed.values()) - started_ms) / 1000


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="requests per door")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    # The bare endpoint runs this file again as its own process.
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")
    suffix = secrets.token_hex(4)
    topics = {
        "ORDER_SYNC_SHOP_ORDERS_TOPIC": f"bench.shop.orders.{suffix}",
        "ORDER_SYNC_ORDERS_TOPIC": f"bench.crm.orders.{suffix}",
        "ORDER_SYNC_ACTIVITY_TOPIC": f"bench.shop.activity.{suffix}",
        "ORDER_SYNC_CARTS_TOPIC": f"bench.crm.carts.{suffix}",
        "ORDER_SYNC_INVENTORY_TOPIC": f"bench.crm.inventory.{suffix}",
    }
    bare_topic = f"bench.bare.{suffix}"
    custom, shopify = f"bench-{suffix}", f"bench-shopify-{suffix}"
    lines = [
        f"{args.requests:,} requests per door from {args.clients} clients; "
        f"load average {os.getloadavg()[0]:.1f} at the start",
        "",
        "| door | requests/s | p50 ms | p99 ms | max ms | all applied after s | statuses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-order-http-") as workdir:
        private_key, public_key = ensure_key_pair(Path(workdir) / "jwt")
        token = issue_token(private_key.read_text(), subject="bench", roles=["admin"])
        deliveries = webhooks(shopify, args.requests)
        canonical = orders(custom, args.requests, token)
        broker = await broker_rate(bootstrap, [r.body for r in canonical])
        try:
            await ensure_topics(bootstrap, [bare_topic], partitions=3)
            async with bare_process(bootstrap, bare_topic, Path(workdir) / "bare.log") as url:
                bare = await load(url, orders(f"bare-{suffix}", args.requests, token), args.clients)
            async with harness.fresh_database(server_url, "bench_order_http") as database_url:
                env = {
                    "ORDER_SYNC_DATABASE_URL": database_url,
                    "ORDER_SYNC_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "ORDER_SYNC_KAFKA_TOPIC_PARTITIONS": "3",
                    "ORDER_SYNC_JWT_PUBLIC_KEY_FILE": str(public_key),
                    "ORDER_SYNC_HTTP_PORT": str(harness.free_port()),
                    **topics,
                }
                async with order_sync_process(env, Path(workdir) / "order-sync.log") as url:
                    auth = {"Authorization": f"Bearer {token}"}
                    async with httpx.AsyncClient(base_url=url) as http:
                        for store_id, platform, secret in (
                            (custom, "custom", None),
                            (shopify, "shopify", SECRET),
                        ):
                            store = {
                                "store_id": store_id,
                                "platform": platform,
                                "name": "Bench shop",
                                "currency": "USD",
                                "country": "US",
                                **({"webhook_secret": secret} if secret else {}),
                            }
                            (
                                await http.post("/v1/stores", json=store, headers=auth)
                            ).raise_for_status()
                    crm_orders = topics["ORDER_SYNC_ORDERS_TOPIC"]
                    hooks = await load(url, deliveries, args.clients)
                    hooks_applied = await applied_after(bootstrap, crm_orders, deliveries, hooks)
                    posts = await load(url, canonical, args.clients)
                    posts_applied = await applied_after(bootstrap, crm_orders, canonical, posts)
        except Exception:
            for log in sorted(Path(workdir).glob("*.log")):
                sys.stderr.write(f"{log.name}:\n{log.read_text()[-5000:]}\n")
            raise
        finally:
            await harness.delete_topics(
                bootstrap,
                [bare_topic, *(t for topic in topics.values() for t in (topic, dlq_topic(topic)))],
            )
    lines += [
        row("Shopify webhook `orders/create`", hooks, hooks_applied),
        row("`POST /v1/orders`", posts, posts_applied),
        row("bare endpoint: validate and publish", bare, None),
        "",
        f"broker, plain produce (acks=all): {broker:,.0f} records/s; "
        f"load average {os.getloadavg()[0]:.1f} at the end",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    parsed = arguments()
    if parsed.serve_bare:
        serve_bare(parsed.serve_bare, parsed.bootstrap, parsed.topic)
    else:
        asyncio.run(main(parsed))
