"""Batched consumption of crm.orders.v1 gives exactly what one event per transaction gives.

Random streams of order events (people written differently on each order, shared household
phones, junk values, orders naming nobody, stale and redelivered events, types the consumer does
not know, broken events) go through both paths on two databases of their own: one transaction
per event through `service.apply_order_event`, and random batches through the batch handler. The
customers, identities, orders, merges, suggestions, consents, timeline, scores and the published
events must be the same, ids aside (customer and merge ids are random: each is replaced by the
order in which the published events first name it).
"""

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from crm_common import db
from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import PermanentEventError
from crm_common.testing.migrations import service_metadata
from crm_common.testing.plugin import create_database, drop_database
from crm_events.customer import IdentityKind
from crm_events.registry import CONTRACTS
from customer_profile.attributes.flows import patch_customer
from customer_profile.attributes.schemas import CustomerPatch
from customer_profile.customers import service
from customer_profile.customers.consumers import order_events_handler
from customer_profile.customers.exceptions import NoUsableIdentity
from customer_profile.customers.identities import IdentityKey, digest, normalise_phone
from customer_profile.customers.ingest import apply_order_events
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.main import MIGRATIONS, merge_participants
from customer_profile.privacy.erasure import erase_customer
from customer_profile.timeline import repository as timeline
from customer_profile.timeline.entries import Draft
from pydantic import ValidationError
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
# The service's own merge participants, so that merges move consents, timeline, scores, tags,
# traits, names and addresses in both paths.
POLICY = IdentityPolicy(shared_identity_limit=2, participants=merge_participants())
HOUSEHOLD_PHONE = "+1 415 299 1234"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Tables compared row by row; the outbox and processed_events are compared on their own.
_NOT_COMPARED = {"outbox_events", "processed_events", "alembic_version"}

Sessions = async_sessionmaker[AsyncSession]


class Clock:
    """Deterministic attribution times: the next one only once the last one was used."""

    def __init__(self) -> None:
        self.ticks = 0

    def peek(self) -> datetime:
        return T0 + timedelta(seconds=self.ticks)

    def __call__(self) -> datetime:
        now = self.peek()
        self.ticks += 1
        return now


def _person(rng: random.Random, person: int) -> dict[str, Any]:
    email = f"p{person}@example.com"
    phone = f"415 2{person:02d} 4{person:03d}"
    return {
        "email": rng.choice([email, email.upper(), f"  {email.capitalize()} ", "test@test.com"]),
        "phone": rng.choice([f"+1 {phone}", f"({phone[:3]}) {phone[4:]}", HOUSEHOLD_PHONE]),
        "external_id": rng.choice([f"c-{person}", f"c-{person}", "0"]),
        "first_name": rng.choice([f"First{person}", None]),
        "last_name": f"Last{person}",
    }


def _snapshot(rng: random.Random, number: int, person: int, version: int) -> dict[str, Any]:
    contact = _person(rng, person)
    kept = rng.choice(
        [
            {"email"},
            {"phone"},
            {"external_id"},
            {"email", "phone"},
            {"email", "external_id"},
            {"phone", "external_id"},
            {"email", "phone", "external_id"},
            set(),
        ]
    )
    customer = {
        name: (value if name in kept or name.endswith("name") else None)
        for name, value in contact.items()
    }
    customer["accepts_marketing"] = rng.random() < 0.5
    total = Decimal(10 + number % 7) + Decimal("0.50")
    status = ["pending", "paid", "partially_refunded", "refunded"][min(version - 1, 3)]
    refunded = {"partially_refunded": Decimal(5), "refunded": total}.get(status, Decimal(0))
    placed = T0 - timedelta(days=40 - number)
    return {
        "order_id": f"order-{number}",
        "store_id": f"store-{number % 2}",
        "external_id": str(9_007_199_254_740_993 + number),
        "placed_at": placed.isoformat(),
        "updated_at": (placed + timedelta(hours=version)).isoformat(),
        "currency": "USD",
        "financial_status": status,
        "fulfillment_status": "unfulfilled",
        "cancelled_at": (
            (placed + timedelta(hours=version)).isoformat() if rng.random() < 0.05 else None
        ),
        "customer": customer,
        "lines": [{"name": "Mug", "quantity": 1, "unit_price": str(total)}],
        "total": str(total),
        "refunded_total": str(refunded),
        "net_paid": str(total - refunded if status != "pending" else 0),
        "version": version,
        "store_country": "US",
        # A later snapshot may drop or change the address an earlier one gave.
        "shipping_address": rng.choice(
            [None, {"line1": f"{person} Main St", "city": "Springfield", "country": "US"}]
        ),
    }


def _event(event_type: str, data: dict[str, Any]) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](
        source="order-sync", type=event_type, subject=data.get("order_id"), data=data
    )


def stream(seed: int, orders: int = 60, people: int = 7) -> list[CloudEvent[dict[str, Any]]]:
    """Order events as they may arrive: several versions per order, some late, some again."""
    rng = random.Random(seed)
    events: list[CloudEvent[dict[str, Any]]] = []
    for number in range(orders):
        person = rng.randrange(people)
        for version in range(1, rng.randint(1, 4) + 1):
            data = _snapshot(rng, number, person, version)
            event_type = "crm.order.placed" if version == 1 else "crm.order.updated"
            events.append(_event(event_type, data))
    # Late snapshots (a version after a newer one), redeliveries (the same event id again, next
    # to it or much later), types the consumer does not know, and events that break the order
    # contract.
    for _ in range(len(events) // 6):
        i = rng.randrange(len(events) - 1)
        events[i], events[i + 1] = events[i + 1], events[i]
    for _ in range(len(events) // 8):
        copy = rng.choice(events)
        events.insert(rng.randrange(len(events) + 1), copy)
    for _ in range(3):
        unknown = _event(
            rng.choice(["crm.order.archived", "crm.order.note_added"]),
            _snapshot(rng, rng.randrange(orders), rng.randrange(people), 9),
        )
        events.insert(rng.randrange(len(events) + 1), unknown)
        broken = _snapshot(rng, rng.randrange(orders), rng.randrange(people), 9)
        del broken["currency"]
        events.insert(rng.randrange(len(events) + 1), _event("crm.order.updated", broken))
    return events


def batches(seed: int, events: list[CloudEvent[dict[str, Any]]]) -> Iterator[list[Any]]:
    rng = random.Random(seed * 31 + 1)
    start = 0
    while start < len(events):
        size = rng.choice([1, 2, 5, 17, 60, 500])
        yield events[start : start + size]
        start += size


def prelude_orders() -> list[CloudEvent[dict[str, Any]]]:
    """The orders of persons 5, 0 and 6 before the stream, oldest first: person 5's order-3
    (an order the stream has too), person 0's without a phone, and person 6's with person 0's
    phone (so the stream's orders of person 0 merge person 6's customer into theirs).

    Person 5's customer is the oldest of any the stream's order-3 points at: the order then
    stays with its tombstone (merging an erased customer fails)."""
    events = []
    for number, person, phone in (
        ("3", 5, None),
        ("pre-0", 0, None),
        ("pre-6", 6, "+1 415 200 4000"),
    ):
        data = _snapshot(random.Random(person), 0, person, 1)
        contact = {"email": f"p{person}@example.com", "phone": phone, "external_id": f"c-{person}"}
        data |= {"order_id": f"order-{number}", "customer": data["customer"] | contact}
        events.append(_event("crm.order.placed", data))
    return events


async def prelude(sessions: Sessions, orders: list[CloudEvent[dict[str, Any]]]) -> None:
    """What the store holds before the stream: the customers of the prelude's orders, with tags
    and traits on persons 0 and 6, person 5's erased (with order-3, which the stream updates
    again), storefront activity waiting for persons 2 and 3 (and expired for 4), and RFM
    boundaries from a nightly batch."""
    for index, event in enumerate(orders):
        async with transaction(sessions) as session:
            await service.apply_order_event(
                session=session,
                event=event,
                customers_topic=TOPIC,
                policy=POLICY,
                now=T0 - timedelta(days=5 - index),
            )
    emails = ["p0@example.com", "p6@example.com", "p5@example.com"]
    person0, person6, person5 = await _owners(sessions, emails)
    for customer_id, tag in ((person0, "vip"), (person6, "wholesale")):
        async with transaction(sessions) as session:
            patch = CustomerPatch.model_validate({"traits": {"tag": tag}, "tags": {"add": [tag]}})
            await patch_customer(
                session=session, customer_id=customer_id, patch=patch, now=T0 - timedelta(days=2)
            )
    async with transaction(sessions) as session:
        await erase_customer(
            session=session,
            customer_id=person5,
            actor="test",
            customers_topic=TOPIC,
            now=T0 - timedelta(days=1),
        )
    phone = normalise_phone("+1 415 203 4003")
    assert phone is not None
    waiting = [
        (IdentityKey(IdentityKind.EMAIL, "p2@example.com"), T0 + timedelta(days=30)),
        (IdentityKey(IdentityKind.PHONE, phone), T0 + timedelta(days=30)),
        (IdentityKey(IdentityKind.EMAIL, "p4@example.com"), T0 - timedelta(hours=1)),
    ]
    async with transaction(sessions) as session:
        await timeline.add_pending(
            session=session,
            pending=[
                (
                    [digest(key)],
                    Draft(f"activity-{n}", T0 - timedelta(days=5), "product.viewed", "shop", {}),
                    expires_at,
                )
                for n, (key, expires_at) in enumerate(waiting)
            ],
            now=T0 - timedelta(days=5),
        )
        await session.execute(
            insert(service_metadata("customer_profile").tables["rfm_boundaries"]),
            [
                {
                    "store_id": f"store-{store}",
                    "currency": "USD",
                    "recency": [T0 - timedelta(days=d) for d in (35, 25, 15)] + [None],
                    "frequency": [1, 2, 3, 5],
                    "monetary": [Decimal(10), Decimal("20.5"), Decimal(40), Decimal(80)],
                    "customers": 10,
                    "computed_at": T0 - timedelta(days=1),
                }
                for store in (0, 1)
            ],
        )


async def _owners(sessions: Sessions, emails: list[str]) -> list[str]:
    async with sessions() as session:
        return [
            (await service.find_customers(session=session, email=email))[0].customer.customer_id
            for email in emails
        ]


async def one_at_a_time(sessions: Sessions, events: list[CloudEvent[dict[str, Any]]]) -> set[int]:
    """Each event in a transaction of its own; returns the positions rejected."""
    clock = Clock()
    rejected: set[int] = set()
    for position, event in enumerate(events):
        before = await _claimed(sessions)
        try:
            async with transaction(sessions) as session:
                await service.apply_order_event(
                    session=session,
                    event=event,
                    customers_topic=TOPIC,
                    policy=POLICY,
                    now=clock.peek(),
                )
        except (NoUsableIdentity, ValidationError):
            rejected.add(position)
            continue
        if await _claimed(sessions) > before:
            clock()
    return rejected


async def in_batches(
    sessions: Sessions, events: list[CloudEvent[dict[str, Any]]], seed: int
) -> set[int]:
    clock = Clock()
    rejected: set[int] = set()
    offset = 0
    for chunk in batches(seed, events):
        async with transaction(sessions) as session:
            outcome = await apply_order_events(
                session=session, events=chunk, customers_topic=TOPIC, policy=POLICY, clock=clock
            )
        rejected |= {offset + position for position in outcome.rejected}
        offset += len(chunk)
    return rejected


async def _claimed(sessions: Sessions) -> int:
    async with sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM processed_events"))
    return int(count or 0)


class Labels:
    """Random ids replaced by the order in which they are first seen."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def relabel(self, value: Any, *, learn: bool) -> Any:
        if isinstance(value, str):
            return _UUID.sub(lambda m: self._name(m.group(0), learn), value)
        if isinstance(value, dict):
            return {k: self.relabel(v, learn=learn) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.relabel(v, learn=learn) for v in value]
        return value

    def _name(self, uuid: str, learn: bool) -> str:
        if uuid not in self.names:
            if not learn:
                return "<unnamed id>"
            self.names[uuid] = f"<id {len(self.names)}>"
        return self.names[uuid]


async def state(sessions: Sessions) -> dict[str, Any]:
    """Everything the consumer wrote, ids relabelled, rows in a stable order."""
    labels = Labels()
    async with sessions() as session:
        outbox = await session.execute(
            text("SELECT topic, key, payload FROM outbox_events ORDER BY seq")
        )
        published = []
        for topic, key, payload in outbox:
            envelope = json.loads(payload)
            CONTRACTS.validate(envelope)
            del envelope["id"], envelope["time"]
            published.append(labels.relabel([topic, key, envelope], learn=True))
        claimed = sorted(
            (await session.execute(text("SELECT consumer, event_id FROM processed_events"))).all()
        )
        tables: dict[str, list[str]] = {}
        # Only this service's tables: pytest loads every service's models into one registry.
        for name, table in sorted(service_metadata("customer_profile").tables.items()):
            if name in _NOT_COMPARED:
                continue
            # Selected through the models' column types, so encrypted columns come out in clear.
            rows = (await session.execute(select(table))).mappings().all()
            tables[name] = sorted(
                json.dumps(labels.relabel(dict(row), learn=False), default=str, sort_keys=True)
                for row in rows
            )
    return {"published": published, "claimed": claimed, "tables": tables}


@pytest.fixture
async def two_databases(postgres_url: str) -> Any:
    urls = [await create_database(postgres_url, "test_batch") for _ in range(2)]
    engines = [db.create_engine(url, pool_size=2) for url in urls]
    try:
        for engine in engines:
            await db.migrate(engine, MIGRATIONS)
        yield [db.session_factory(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()
        for url in urls:
            await drop_database(postgres_url, url)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_batches_give_what_one_event_at_a_time_gives(two_databases, seed) -> None:
    single, batched = two_databases
    events = stream(seed)
    before = prelude_orders()
    for sessions in two_databases:
        await prelude(sessions, before)

    rejected_single = await one_at_a_time(single, events)
    rejected_batched = await in_batches(batched, events, seed)

    assert rejected_batched == rejected_single
    expected, got = await state(single), await state(batched)
    # The streams do what they are meant to: merges, suggestions, rejections and duplicates.
    assert any(e[2]["type"] == "crm.customer.merged" for e in expected["published"])
    assert expected["tables"]["merge_suggestions"]
    assert any('"r_score": null' not in row for row in expected["tables"]["customer_rfm"])
    assert any("activity-" in row for row in expected["tables"]["timeline_entries"])
    assert rejected_single
    assert len(expected["claimed"]) < len({e.id for e in events})
    assert got["published"] == expected["published"]
    assert got["claimed"] == expected["claimed"]
    for name, rows in expected["tables"].items():
        assert got["tables"][name] == rows, name


async def test_two_events_of_one_batch_create_then_merge_one_person(sessions) -> None:
    """The first order makes a customer by phone, the second one by email, the third joins
    them: all three in one batch, as in three transactions."""
    orders = [
        {"phone": "+1 415 201 4001", "email": None},
        {"phone": None, "email": "ann@example.com"},
        {"phone": "(415) 201-4001", "email": "ANN@example.com"},
    ]
    events = []
    for number, contact in enumerate(orders):
        data = _snapshot(random.Random(number), number, 1, 1)
        data["customer"] |= contact | {"external_id": None}
        events.append(_event("crm.order.placed", data))
    async with transaction(sessions) as session:
        outcome = await apply_order_events(session=session, events=events, customers_topic=TOPIC)
    assert outcome.outcomes["attributed"] == 3
    published = (await state(sessions))["published"]
    types = [envelope["type"] for _, _, envelope in published]
    assert types.count("crm.customer.created") == 2
    merged = next(env for _, _, env in published if env["type"] == "crm.customer.merged")
    # The customer of the first order is the older one: it survives.
    assert merged["data"]["survivor_id"] == "<id 0>"
    assert merged["data"]["merged_id"] == published[types.index("crm.customer.created", 1)][1]


async def test_a_poison_event_is_reported_and_the_rest_applied(sessions) -> None:
    nobody = _snapshot(random.Random(1), 1, 1, 1)
    # Only junk: the contract requires one of them, the guard takes them all out.
    nobody["customer"] |= {"email": "test@test.com", "phone": None, "external_id": "0"}
    fine = _snapshot(random.Random(2), 2, 2, 1)
    fine["customer"]["email"] = "bo@example.com"
    unknown = _event("crm.order.archived", fine)
    events = [_event("crm.order.placed", nobody), unknown, _event("crm.order.placed", fine)]
    handler = order_events_handler(sessions, customers_topic=TOPIC)

    rejections = await handler(events)

    assert list(rejections) == [0]
    assert isinstance(rejections[0], PermanentEventError)
    assert "no valid email, phone or shop customer id" in str(rejections[0])
    async with sessions() as session:
        claimed = set(
            (await session.execute(text("SELECT event_id FROM processed_events"))).scalars()
        )
    # Only the applied event is claimed: the rejected one applies when redriven, and a type
    # the consumer does not know is neither applied nor dead-lettered.
    assert claimed == {events[2].id}
    # Redelivered, the batch changes nothing more.
    before = await state(sessions)
    assert list(await handler(events)) == [0]
    assert await state(sessions) == before
