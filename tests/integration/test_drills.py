"""Fault drills: stores, the broker and the services themselves killed and brought back while a
shop sends orders cost nothing but time. No order is lost or counted twice, and no event is
dead-lettered.

The short drill (PostgreSQL killed mid-stream) runs in `make test`; `make drills` runs the long
one too: every service killed in turn mid-batch, then Kafka, PostgreSQL and the MongoDB-wire
server, then a consumer paused past its session timeout so that its group rebalances.
"""

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_events import topics

from .conftest import ROOT, TokenFactory, canonical_order, eventually, register_store

pytestmark = pytest.mark.integration

CUSTOMERS = 80
WATCHED = [
    topics.dlq(t)
    for t in (topics.SHOP_ORDERS, topics.CRM_ORDERS, topics.CRM_CUSTOMERS, topics.SHOP_ACTIVITY)
]
SERVICES = ("order-sync", "customer-profile", "campaign", "support-ticket", "analytics")
ORDER_TOTAL = 32


async def _outage_retries(http: dict[str, httpx.AsyncClient]) -> float:
    """Tries of events that failed because a store or the broker was out of reach, summed over
    every service (`crm_consumer_outage_retries_total`)."""
    total = 0.0
    for client in http.values():
        for line in (await client.get("/metrics")).text.splitlines():
            if line.startswith("crm_consumer_outage_retries_total{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


async def _dead_letters(bootstrap: str) -> dict[str, int]:
    """Records on each watched dead-letter topic so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()
        counts = {}
        for topic in WATCHED:
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            counts[topic] = sum(ends.values())
        return counts
    finally:
        await consumer.stop()


def _kill(pid_file: str) -> None:
    """kill -9 the process whose pid the file holds first, as a crash or an OOM kill would."""
    os.kill(int((ROOT / pid_file).read_text().split()[0]), signal.SIGKILL)


def _infra_mode() -> str:
    return (ROOT / ".local/infra.mode").read_text().strip()


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.DEVNULL)
    assert await process.wait() == 0, command


async def _bring_back_infrastructure() -> None:
    await _run(str(ROOT / "deploy/local/infra.sh"), "up")


async def _bring_back_services() -> None:
    await _run(str(ROOT / "deploy/local/services.sh"), "up")


async def _kill_postgres() -> None:
    if _infra_mode() == "docker":
        await _run("docker", "compose", "kill", "-s", "SIGKILL", "postgres")
    else:
        _kill(".local/pg/data/postmaster.pid")


class Shop:
    """A shop sending orders through REST and Kafka, as shops do: each one again until it is
    accepted. Orders cycle over CUSTOMERS customers; every order totals ORDER_TOTAL."""

    def __init__(
        self, http: dict[str, httpx.AsyncClient], token: TokenFactory, store_id: str, bootstrap: str
    ) -> None:
        self.http = http
        self.admin = token.headers("admin")
        self.store_id = store_id
        self.bootstrap = bootstrap
        self.accepted = 0
        self.answers: Counter[int | str] = Counter()
        self._stop = asyncio.Event()

    def order(self, number: int) -> dict[str, Any]:
        customer = number % CUSTOMERS
        return canonical_order(
            self.store_id,
            f"drill-{number}",
            placed_at=f"2026-11-{1 + number % 28:02d}T10:00:00Z",
            customer={"external_id": f"c-{customer}", "email": self.email(customer)},
        )

    def email(self, customer: int) -> str:
        return f"c{customer}.{self.store_id}@example.com"

    async def post(self, number: int) -> None:
        orders = self.http["order-sync"]
        async with asyncio.timeout(300):
            while True:
                try:
                    response = await orders.post(
                        "/v1/orders", json=self.order(number), headers=self.admin
                    )
                except httpx.TransportError:
                    self.answers["unreachable"] += 1
                    await asyncio.sleep(0.5)
                    continue
                self.answers[response.status_code] += 1
                if response.status_code == 202:
                    self.accepted += 1
                    return
                # Only a store out of reach is worth sending again; anything else is a failure.
                assert response.status_code == 503, response.text
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))

    async def publish(self, producer: AIOKafkaProducer, number: int) -> None:
        order = self.order(number)
        event = CloudEvent[dict[str, Any]](
            source=f"shop/{self.store_id}", type="shop.order.upserted", data=order
        )
        async with asyncio.timeout(300):
            while True:
                try:
                    await producer.send_and_wait(
                        topics.SHOP_ORDERS, to_json_bytes(event), key=order["external_id"].encode()
                    )
                    self.accepted += 1
                    return
                except Exception:  # the broker is being restarted: send it again
                    self.answers["kafka unreachable"] += 1
                    await asyncio.sleep(0.5)

    async def stream(self, *, orders: int | None = None, via_kafka_every: int = 0) -> int:
        """Send `orders` orders, or until `stop()`; every `via_kafka_every`-th one goes through
        `shop.orders.v1` instead of REST. Returns how many were sent."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        lanes = asyncio.Semaphore(4)
        sent: list[asyncio.Task[None]] = []

        async def one(number: int) -> None:
            async with lanes:
                if via_kafka_every and number % via_kafka_every == 0:
                    await self.publish(producer, number)
                else:
                    await self.post(number)

        try:
            number = 0
            while (orders is None and not self._stop.is_set()) or (
                orders is not None and number < orders
            ):
                await lanes.acquire()
                lanes.release()
                sent.append(asyncio.create_task(one(number)))
                number += 1
                await asyncio.sleep(0.02)
            await asyncio.gather(*sent)
        finally:
            await producer.stop()
        return number

    def stop(self) -> None:
        self._stop.set()

    async def settled(self, orders: int, *, timeout: float) -> None:
        """Wait until analytics and customer-profile count every order exactly once."""
        reader = self.admin

        async def kpis() -> dict[str, Any] | None:
            try:
                response = await self.http["analytics"].get(
                    "/v1/kpis",
                    params={"store_id": self.store_id, "from": "2026-11-01", "to": "2026-12-01"},
                    headers=reader,
                )
            except httpx.TransportError:
                return None
            body: dict[str, Any] = response.json()
            counted = response.status_code == 200 and body["orders"] == orders
            return body if counted and body["customers"] == min(orders, CUSTOMERS) else None

        report = await eventually(kpis, what="the KPIs counting every order once", timeout=timeout)
        assert report["revenue"] == f"{ORDER_TOTAL * orders}.00"

        async def profile(customer: int) -> dict[str, Any] | None:
            try:
                response = await self.http["customer-profile"].get(
                    "/v1/customers", params={"email": self.email(customer)}, headers=reader
                )
            except httpx.TransportError:
                return None
            items = response.json().get("items", []) if response.status_code == 200 else []
            expected = len(range(customer, orders, CUSTOMERS))
            if len(items) == 1 and items[0]["stats"]["orders_count"] == expected:
                return dict(items[0])
            return None

        for customer in range(min(orders, CUSTOMERS)):
            found = await eventually(
                lambda c=customer: profile(c), what=f"customer {customer}'s orders", timeout=60
            )
            copies = [
                ("campaign", f"/v1/contacts/{found['customer_id']}"),
                ("support-ticket", f"/v1/customers/{found['customer_id']}"),
            ]
            for service, path in copies:
                await eventually(
                    lambda s=service, p=path: _found(self.http[s], p, reader),
                    what=f"{service}'s copy of customer {customer}",
                )


async def _found(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> bool:
    try:
        return (await client.get(path, headers=headers)).status_code == 200
    except httpx.TransportError:  # a service still catching up may answer late: ask again
        return False


async def _true(value: bool) -> bool:
    return value


@pytest.mark.timeout(600)
async def test_postgresql_killed_and_brought_back_while_a_shop_posts_orders(
    http: dict[str, httpx.AsyncClient],
    token: TokenFactory,
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    await register_store(http, token, store_id)
    before = await _dead_letters(kafka_bootstrap)
    retried_before = await _outage_retries(http)
    shop = Shop(http, token, store_id, kafka_bootstrap)
    orders = 240

    sending = asyncio.create_task(shop.stream(orders=orders))
    await eventually(lambda: _true(shop.accepted >= 60), what="the first orders accepted")
    await _kill_postgres()
    await _bring_back_infrastructure()
    await sending

    await shop.settled(orders, timeout=180)
    assert await _dead_letters(kafka_bootstrap) == before
    # The drill did meet the outage: consumers waited for PostgreSQL and tried again. (The REST
    # door itself needs no database: it answers once the order is on shop.orders.v1.)
    assert await _outage_retries(http) > retried_before
    assert shop.answers[202] == orders, shop.answers


Fault = tuple[str, Callable[[], Awaitable[None]]]


def _faults() -> list[Fault]:
    async def kill_service(name: str) -> None:
        _kill(f".local/run/{name}.pid")
        await _bring_back_services()

    async def kill_infrastructure(pid_file: str) -> None:
        _kill(pid_file)
        await _bring_back_infrastructure()

    async def pause_past_session_timeout(name: str) -> None:
        pid = int((ROOT / f".local/run/{name}.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        try:
            # aiokafka's session timeout is 10 s: the group rebalances without it meanwhile.
            await asyncio.sleep(20)
        finally:
            os.kill(pid, signal.SIGCONT)

    faults: list[Fault] = [(f"kill -9 {name}", lambda n=name: kill_service(n)) for name in SERVICES]
    faults += [
        ("kill -9 kafka", lambda: kill_infrastructure(".local/run/kafka.pid")),
        ("kill -9 postgresql", lambda: kill_infrastructure(".local/pg/data/postmaster.pid")),
        ("kill -9 ferretdb", lambda: kill_infrastructure(".local/run/ferretdb.pid")),
        ("pause customer-profile 20 s", lambda: pause_past_session_timeout("customer-profile")),
    ]
    return faults


@pytest.mark.drill
@pytest.mark.timeout(1800)
async def test_every_fault_in_turn_while_a_shop_streams_orders(
    http: dict[str, httpx.AsyncClient],
    token: TokenFactory,
    kafka_bootstrap: str,
    store_id: str,
) -> None:
    if _infra_mode() != "local":
        pytest.skip("the long drill kills the local processes that infra.sh starts")
    await register_store(http, token, store_id)
    before = await _dead_letters(kafka_bootstrap)
    shop = Shop(http, token, store_id, kafka_bootstrap)
    started = time.monotonic()
    streaming = asyncio.create_task(shop.stream(via_kafka_every=3))
    injected = []
    for name, inject in _faults():
        await eventually(
            lambda n=shop.accepted: _true(shop.accepted >= n + 20),
            what=f"orders flowing before {name}",
            timeout=300,
        )
        at = time.monotonic() - started
        await inject()
        injected.append(f"{at:6.1f}s  {name}")
    shop.stop()
    published = await streaming

    await shop.settled(published, timeout=600)
    dead = {t: n - before[t] for t, n in (await _dead_letters(kafka_bootstrap)).items()}
    report = [
        "drill: faults injected while a shop streamed orders (REST, and every third on Kafka):",
        *injected,
        f"drill: published {published}, applied {published} (KPIs and every customer's stats), "
        f"lost 0, duplicated 0; dead letters {sum(dead.values())}; answers {dict(shop.answers)}; "
        f"{time.monotonic() - started:.0f}s in all",
    ]
    print("\n".join(report))  # noqa: T201 (the drill's report is its output)
    assert dead == dict.fromkeys(WATCHED, 0)
