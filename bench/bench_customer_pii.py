"""customer-profile: what encrypting personal data at rest costs.

1. The primitives, in process: AES-256-GCM encryption and decryption of an email, of a merge
   snapshot (JSON), and a keyed digest (HMAC-SHA256), in microseconds per call.
2. Attribution: `--orders` orders (from a pool of returning people, each order as
   `crm.order.placed` then `crm.order.paid`) applied one event per transaction, as the consumer
   does, to a fresh database, twice: with the real keyring, and with a stand-in that stores the
   values as they are (same digests, no cipher). The difference is what encryption costs per
   event; the counts say how many values each event encrypts and decrypts.

Run by `make bench` (with .local/infra.env sourced), or:
    uv run python bench/bench_customer_pii.py --orders 300
"""

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from crm_common import db
from crm_common.envelope import CloudEvent
from crm_common.testing.plugin import create_database, drop_database
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS
from crm_events.shop import CanonicalOrder
from customer_profile import main as app  # first: it registers every table
from customer_profile import pii
from customer_profile.customers import service

BASE = datetime(2026, 11, 1, 10, tzinfo=UTC)


class Counting(pii.Keyring):
    """The real keyring, counting its calls and the time spent in them."""

    encrypted = 0
    decrypted = 0
    digested = 0
    seconds = 0.0

    def encrypt(self, purpose: str, plaintext: bytes) -> bytes:
        started = time.perf_counter()
        try:
            return super().encrypt(purpose, plaintext)
        finally:
            Counting.encrypted += 1
            Counting.seconds += time.perf_counter() - started

    def decrypt(self, purpose: str, blob: bytes) -> bytes:
        started = time.perf_counter()
        try:
            return super().decrypt(purpose, blob)
        finally:
            Counting.decrypted += 1
            Counting.seconds += time.perf_counter() - started

    def keyed_digest(self, purpose: str, value: str) -> str:
        started = time.perf_counter()
        try:
            return super().keyed_digest(purpose, value)
        finally:
            Counting.digested += 1
            Counting.seconds += time.perf_counter() - started


class NoCipher(pii.Keyring):
    """The comparison only: values stored as they are, digests as usual."""

    def encrypt(self, purpose: str, plaintext: bytes) -> bytes:  # noqa: ARG002
        return plaintext

    def decrypt(self, purpose: str, blob: bytes) -> bytes:  # noqa: ARG002
        return blob


def keyring(kind: type[pii.Keyring]) -> pii.Keyring:
    key = secrets.token_bytes(32)
    return kind(keys={"bench": key}, active_key="bench", lookup_key=secrets.token_bytes(32))


def per_call(fn: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e6


def primitives(calls: int) -> dict[str, float]:
    pii.configure(keyring(pii.Keyring))
    email = pii.encrypt_text("customers.email", "person123@example.com")
    snapshot_value = {
        side: {"email": f"{side}@example.com", "phone": "+14155550100", "first_name": "Ada"}
        | {"last_name": "Lovelace", "orders_count": 3, "total_spent": "120.00"}
        for side in ("survivor", "merged")
    } | {"identities": [{"kind": "email", "value": "a@example.com", "store_id": None}] * 3}
    snapshot = pii.encrypt_json("merge_log.snapshot", snapshot_value)
    return {
        "encrypt email": per_call(
            lambda: pii.encrypt_text("customers.email", "person123@example.com"), calls
        ),
        "decrypt email": per_call(lambda: pii.decrypt_text("customers.email", email), calls),
        f"encrypt snapshot ({len(snapshot)} B)": per_call(
            lambda: pii.encrypt_json("merge_log.snapshot", snapshot_value), calls
        ),
        "decrypt snapshot": per_call(
            lambda: pii.decrypt_json("merge_log.snapshot", snapshot), calls
        ),
        "keyed digest": per_call(
            lambda: pii.keyed_digest("identity", "email\x1f\x1fperson123@example.com"), calls
        ),
    }


def order_events(orders: int, rng: random.Random) -> list[CloudEvent[dict[str, Any]]]:
    people = max(1, orders // 2)
    events = []
    for n in range(orders):
        person = rng.randrange(people)
        email = f"Person{person}@Example.com" if n % 2 else f"person{person}@example.com"
        canonical = CanonicalOrder.model_validate(
            {
                "store_id": rng.choice(("store-a", "store-b")),
                "external_id": str(10**15 + n),
                "placed_at": BASE + timedelta(minutes=n),
                "currency": "USD",
                "financial_status": "paid",
                "customer": {
                    "external_id": f"c-{person}",
                    "email": email,
                    "phone": f"+1 415 555 {1000 + person % 9000:04d}",
                    "first_name": f"First{person}",
                    "last_name": f"Last{person}",
                    "accepts_marketing": n % 3 == 0,
                },
                "lines": [{"name": "Mug", "quantity": 1, "unit_price": "12.50"}],
                "total": str(Decimal("12.50")),
            }
        )
        order_id = str(uuid4())
        for version, kind in ((1, "crm.order.placed"), (2, "crm.order.paid")):
            snapshot = OrderSnapshot.from_order(canonical, order_id=order_id, version=version)
            contract = CONTRACTS.get(kind)
            typed = contract.event(contract.model.model_validate(snapshot.model_dump()))
            events.append(CloudEvent[dict[str, Any]].model_validate_json(typed.model_dump_json()))
    return events


async def attribution(
    server_url: str, events: Sequence[CloudEvent[dict[str, Any]]], ring: pii.Keyring
) -> float:
    """Seconds to apply `events`, one transaction each, on a fresh migrated database."""
    pii.configure(ring)
    url = await create_database(server_url, "bench_pii")
    engine = db.create_engine(url, pool_size=2)
    try:
        await db.migrate(engine, app.MIGRATIONS)
        sessions = db.session_factory(engine)
        started = time.perf_counter()
        for event in events:
            async with db.transaction(sessions) as session:
                await service.apply_order_event(
                    session=session, event=event, customers_topic="bench.customers"
                )
        return time.perf_counter() - started
    finally:
        await engine.dispose()
        await drop_database(server_url, url)


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args(argv)
    server_url = os.environ.get("POSTGRES_URL", "postgresql://crm:crm@127.0.0.1:5432")

    out = sys.stdout.write
    out("customer-profile PII encryption\n")
    for name, micros in primitives(args.calls).items():
        out(f"  {name:<28} {micros:8.2f} us/call\n")

    events = order_events(args.orders, random.Random(7))
    # Plain first, then encrypted, then plain again: the two plain runs show the noise.
    plain = await attribution(server_url, events, keyring(NoCipher))
    encrypted = await attribution(server_url, events, keyring(Counting))
    again = await attribution(server_url, events, keyring(NoCipher))
    n = len(events)
    out(f"  attribution, {args.orders} orders = {n} events, one transaction each:\n")
    out(f"    no cipher      {n / plain:8.1f} / {n / again:.1f} events/s (before / after)\n")
    out(f"    encrypted      {n / encrypted:8.1f} events/s\n")
    out(
        f"    per event      {Counting.encrypted / n:8.2f} encryptions, "
        f"{Counting.decrypted / n:.2f} decryptions, {Counting.digested / n:.2f} keyed digests\n"
    )
    out(
        f"    in the keyring {Counting.seconds / n * 1000:8.3f} ms/event, "
        f"{Counting.seconds / encrypted * 100:.1f}% of the encrypted run\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
