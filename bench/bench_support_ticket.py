"""support-ticket: ticket list and search latency, and SLA breaches of many tickets due in the
same minute.

Starts the service in this process (its lifespan: indexes, broker, relay, SLA scheduler) on a
scratch MongoDB database and topics of its own (dropped afterwards), and calls its HTTP API
through an in-process ASGI transport (no sockets: the figures are the service and its store).

1. **List and search.** Opens `--tickets` tickets (varied subjects, statuses, tags, assignees)
   with `--writers` writers at once, then times `--requests` calls, one at a time, of each of:
   the first page of `GET /v1/tickets` (50, most recently changed first), the second page (by
   cursor), a status filter, a tag and assignee filter, and a subject search (`q`). Prints
   p50, p99 and max per call.
2. **SLA breaches.** Stores an always-open calendar and a policy for a store of its own whose
   first-response target is `--due-seconds`, opens `--due` new tickets of that store as fast as
   `--writers` allow (their due instants fall within the same minute when opening them all
   takes less), then reads the tickets topic until every ticket's `crm.ticket.sla_breached` is
   there. Prints how long the tickets took to open, and per breach the lag from its due instant
   to the record's timestamp (set by the relay's producer): p50, p99, max, and how many came
   more than 5 s late. The tickets of the first part are open too: the new policy makes the
   scheduler compute them all again meanwhile (they get no SLA).

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_support_ticket.py --tickets 2000 --due 500
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _harness as harness
import httpx
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.mongo import create_client
from support_ticket.config import Settings
from support_ticket.main import create_app

WORDS = ("parcel", "refund", "invoice", "broken", "late", "size", "colour", "address", "coupon")
STATUSES = ("new", "open", "pending", "on_hold", "solved")
SLA_STORE = "bench-sla"
BUSY: list[int] = []
"""One entry per 503 answered (a lease busy for 10 s) and retried."""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def sent(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """`call()`, again after the second the service asks for while a lease stays busy (503)."""
    while True:
        response = await call()
        if response.status_code != 503:
            response.raise_for_status()
            return response
        BUSY.append(1)
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def open_many(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    count: int,
    writers: int,
    seed: int,
    store_id: str | None = None,
    statuses: tuple[str, ...] = STATUSES,
) -> list[dict[str, Any]]:
    """Open `count` tickets, `writers` at once, each moved on to one of `statuses`."""
    rng = random.Random(seed)
    gate = asyncio.Semaphore(writers)
    opened: list[dict[str, Any]] = []

    async def one(index: int) -> None:
        body = {
            "subject": f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{index}",
            "requester": {"email": f"c{index}@example.com"},
            "tags": rng.sample(WORDS, 2),
            "assignee_id": f"agent-{index % 20}",
            "store_id": store_id,
        }
        status = rng.choice(statuses)
        async with gate:
            response = await sent(lambda: http.post("/v1/tickets", json=body, headers=headers))
            ticket = response.json()
            if status != "new":
                path = f"/v1/tickets/{ticket['ticket_id']}"
                await sent(lambda: http.patch(path, json={"status": status}, headers=headers))
        opened.append(ticket)

    await asyncio.gather(*(one(index) for index in range(count)))
    return opened


async def timed(call: Callable[[], Awaitable[httpx.Response]], requests: int) -> list[float]:
    durations = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await call()
        durations.append(time.perf_counter() - started)
        response.raise_for_status()
    return durations


def summary(durations: list[float], unit: float = 1000.0) -> str:
    p50, p99 = harness.percentile(durations, 0.5), harness.percentile(durations, 0.99)
    return f"p50 {p50 * unit:8.1f}  p99 {p99 * unit:8.1f}  max {max(durations) * unit:8.1f}"


async def list_and_search(
    http: httpx.AsyncClient, headers: dict[str, str], args: argparse.Namespace
) -> None:
    started = time.perf_counter()
    await open_many(http, headers, args.tickets, args.writers, args.seed)
    took = time.perf_counter() - started
    say(
        f"opened {args.tickets} tickets in {took:.1f} s ({args.tickets / took:.0f}/s; "
        f"{len(BUSY)} answers 503 retried)"
    )
    first = (await http.get("/v1/tickets", headers=headers)).json()
    calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "first page": lambda: http.get("/v1/tickets", headers=headers),
        "second page": lambda: http.get(
            "/v1/tickets", params={"cursor": first["next_cursor"]}, headers=headers
        ),
        "status=open": lambda: http.get("/v1/tickets", params={"status": "open"}, headers=headers),
        "tag+assignee": lambda: http.get(
            "/v1/tickets", params={"tag": "late", "assignee_id": "agent-3"}, headers=headers
        ),
        "search q": lambda: http.get("/v1/tickets", params={"q": "refund inv"}, headers=headers),
    }
    say(f"{'call (ms)':<14} over {args.tickets} tickets, {args.requests} calls each")
    for name, call in calls.items():
        say(f"{name:<14} {summary(await timed(call, args.requests))}")


async def breaches(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    settings: Settings,
    args: argparse.Namespace,
) -> None:
    calendar = await http.put(
        "/v1/sla/calendars/always", json={"always_open": True}, headers=headers
    )
    calendar.raise_for_status()
    # Scoped to a store of its own: the tickets of the first part get no SLA.
    policy = {
        "name": "bench",
        "conditions": {"store_id": [SLA_STORE]},
        "calendar_id": "always",
        "targets": {"first_response_seconds": args.due_seconds},
    }
    stored = await http.put("/v1/sla/policies", json={"policies": [policy]}, headers=headers)
    stored.raise_for_status()

    consumer = AIOKafkaConsumer(
        settings.tickets_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        started = time.perf_counter()
        opened = await open_many(
            http,
            headers,
            args.due,
            args.writers,
            args.seed + 1,
            store_id=SLA_STORE,
            statuses=("new",),
        )
        took = time.perf_counter() - started
        due = {
            t["ticket_id"]: instant(t["sla"]["first_response_due_at"])
            for t in opened
            if t["sla"] and t["sla"]["first_response_due_at"]
        }
        spread = (max(due.values()) - min(due.values())).total_seconds()
        say(
            f"opened {args.due} tickets in {took:.1f} s; due instants spread over "
            f"{spread:.1f} s; {len(BUSY)} answers 503 retried in all"
        )
        lags: dict[str, float] = {}
        repeats = 0
        deadline = time.monotonic() + args.due_seconds + 600
        while len(lags) < len(due):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(lags)} of {len(due)} breaches within the deadline")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["type"] != "crm.ticket.sla_breached":
                        continue
                    ticket_id = event["subject"]
                    if ticket_id not in due:
                        continue
                    if ticket_id in lags:
                        repeats += 1
                    published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                    lags[ticket_id] = (published - due[ticket_id]).total_seconds()
        values = list(lags.values())
        late = sum(1 for lag in values if lag > 5)
        say(
            f"breach lag (s)  {summary(values, unit=1.0)}  min {min(values):.2f}; "
            f"{late} of {len(values)} later than 5 s; {repeats} repeated"
        )
    finally:
        await consumer.stop()


async def main(args: argparse.Namespace) -> None:
    keys = Path(tempfile.mkdtemp(prefix="bench-support-ticket-"))
    private, public = ensure_key_pair(keys)
    suffix = secrets.token_hex(4)
    settings = Settings(
        mongodb_url=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017"),
        mongodb_database=f"bench_support_ticket_{suffix}",
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        jwt_public_key=public.read_text(),
        customers_topic=f"bench.crm.customers.{suffix}",
        tickets_topic=f"bench.crm.tickets.{suffix}",
        consumer_group_prefix=f"bench.support_ticket.{suffix}",
    )
    token = issue_token(private.read_text(), subject="bench", roles=["admin", "agent"])
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(settings)
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://support-ticket", timeout=60
            ) as http,
        ):
            if args.tickets:
                await list_and_search(http, headers, args)
            if args.due:
                await breaches(http, headers, settings, args)
    finally:
        client = create_client(settings.mongodb_url)
        await client.drop_database(settings.mongodb_database)
        await client.close()
        topics = [settings.customers_topic, settings.tickets_topic]
        await harness.delete_topics(
            settings.kafka_bootstrap_servers, [*topics, *(f"{t}.dlq" for t in topics)]
        )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=2000, help="tickets to list and search")
    parser.add_argument("--requests", type=int, default=100, help="timed calls of each kind")
    parser.add_argument("--due", type=int, default=500, help="tickets due in the same minute")
    parser.add_argument("--due-seconds", type=int, default=60, help="their first-response target")
    parser.add_argument("--writers", type=int, default=8, help="tickets opened at once")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
