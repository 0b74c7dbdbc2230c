"""The timeline against a real PostgreSQL database: order milestones through the order hook,
storefront activity, events naming customers, pages, merges and erasure."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent, format_rfc3339
from crm_events.customer import IdentityKind
from crm_events.shop import FinancialStatus, FulfillmentStatus
from customer_profile.customers import service as customers
from customer_profile.customers.identities import IdentityKey, digest
from customer_profile.merges import service as merges
from customer_profile.privacy import erasure
from customer_profile.timeline import repository, service
from customer_profile.timeline.entries import event_draft
from customer_profile.timeline.models import PendingActivity, TimelineEntry
from customer_profile.timeline.participant import TimelineFollowsMerges
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
NOW = datetime.now(UTC).replace(microsecond=0)
Sessions = async_sessionmaker[AsyncSession]


async def apply(sessions: Sessions, event: CloudEvent[dict[str, Any]]) -> None:
    async with transaction(sessions) as session:
        await customers.apply_order_event(session=session, event=event, customers_topic=TOPIC)


async def customer_id_of(sessions: Sessions, email: str) -> str:
    async with sessions() as session:
        (view,) = await customers.find_customers(session=session, email=email)
    return view.customer.customer_id


async def timeline(sessions: Sessions, customer_id: str) -> list[TimelineEntry]:
    """The whole timeline, page by page (two entries a page), newest first."""
    entries: list[TimelineEntry] = []
    cursor = None
    async with sessions() as session:
        while True:
            page, cursor = await service.page(
                session=session, customer_id=customer_id, cursor=cursor, limit=2
            )
            entries += page
            if cursor is None:
                return entries


def kinds(entries: list[TimelineEntry]) -> list[str]:
    return [entry.kind for entry in entries]


def event(
    event_type: str, data: dict[str, Any], *, at: datetime, source: str = "support-ticket"
) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](source=source, type=event_type, data=data, time=at)


def shop(
    event_type: str, data: dict[str, Any], *, at: datetime = NOW
) -> CloudEvent[dict[str, Any]]:
    """A storefront event as a shop publishes it (contract types validate their data)."""
    body = {k: format_rfc3339(v) if isinstance(v, datetime) else v for k, v in data.items()}
    return CloudEvent[dict[str, Any]](source="shop/store-a", type=event_type, data=body, time=at)


async def activity(sessions: Sessions, *events: CloudEvent[dict[str, Any]]) -> service.Applied:
    async with transaction(sessions) as session:
        return await service.apply_activity(session=session, events=events, now=NOW)


async def about_customers(
    sessions: Sessions, *events: CloudEvent[dict[str, Any]]
) -> service.Applied:
    async with transaction(sessions) as session:
        return await service.apply_customer_events(session=session, events=events, now=NOW)


async def count(sessions: Sessions, model: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_each_order_milestone_is_recorded_once_in_any_arrival_order(
    sessions, make_order, order_event
) -> None:
    placed_at = NOW - timedelta(days=3)
    placed = make_order(email="ada@example.com", financial_status="pending", placed_at=placed_at)
    shipped = placed.model_copy(
        update={
            "version": 3,
            "financial_status": FinancialStatus.PAID,
            "fulfillment_status": FulfillmentStatus.FULFILLED,
            "updated_at": placed_at + timedelta(days=1),
        }
    )
    paid = placed.model_copy(update={"version": 2, "financial_status": FinancialStatus.PAID})
    await apply(sessions, order_event(placed))
    await apply(sessions, order_event(shipped, "crm.order.fulfilled"))
    await apply(sessions, order_event(paid, "crm.order.paid"))
    await apply(sessions, order_event(shipped, "crm.order.fulfilled"))

    entries = await timeline(sessions, await customer_id_of(sessions, "ada@example.com"))
    # Paid and fulfilled were first seen together: the same time, in lifecycle order.
    assert kinds(entries) == ["order.fulfilled", "order.paid", "order.placed"]
    assert [e.occurred_at for e in entries] == [placed_at + timedelta(days=1)] * 2 + [placed_at]
    assert entries[0].summary["fulfillment_status"] == "fulfilled"
    assert entries[0].reference["order_id"] == placed.order_id
    assert {e.order_id for e in entries} == {placed.order_id}


async def test_pages_run_newest_first_without_gaps_or_repeats(
    sessions, make_order, order_event
) -> None:
    for day in range(5):
        order = make_order(
            email="grace@example.com",
            financial_status="pending",
            placed_at=NOW - timedelta(days=10 - day),
        )
        await apply(sessions, order_event(order))
    customer_id = await customer_id_of(sessions, "grace@example.com")
    async with sessions() as session:
        first, cursor = await service.page(
            session=session, customer_id=customer_id, cursor=None, limit=2
        )
    # Something newer arriving between two pages does not shift the next one.
    late = make_order(email="grace@example.com", financial_status="pending", placed_at=NOW)
    await apply(sessions, order_event(late))
    async with sessions() as session:
        second, _ = await service.page(
            session=session, customer_id=customer_id, cursor=cursor, limit=2
        )
    whole = await timeline(sessions, customer_id)
    times = [e.occurred_at for e in whole]
    assert times == sorted(times, reverse=True)
    assert len(whole) == 6
    assert [e.entry_id for e in first + second] == [e.entry_id for e in whole[1:5]]


async def test_activity_of_an_unknown_shopper_waits_for_their_identity(
    sessions, make_order, order_event
) -> None:
    viewed = shop(
        "shop.product.viewed",
        {
            "store_id": "store-a",
            "customer": {"email": "Hedy@Example.com"},
            "product_id": "p-1",
            "viewed_at": NOW - timedelta(days=2),
        },
    )
    stale = shop(
        "shop.wishlist.added",
        {"store_id": "store-a", "email": "hedy@example.com", "product_id": "p-2"},
        at=NOW - timedelta(days=31),
    )
    browsing = shop("shop.search.performed", {"store_id": "store-a", "query": "mugs"})
    applied = await activity(sessions, viewed, stale, browsing)
    assert applied.outcomes == {"pending": 1, "expired": 1, "anonymous": 1}
    assert applied.rejected == {}
    assert await count(sessions, PendingActivity) == 1

    order = make_order(email="hedy@example.com", customer_ref="h-1", placed_at=NOW)
    await apply(sessions, order_event(order))
    customer_id = await customer_id_of(sessions, "hedy@example.com")
    assert await count(sessions, PendingActivity) == 0

    # Known now, by the shop's reference alone; and a redelivery changes nothing.
    checkout = shop(
        "shop.checkout.started",
        {
            "store_id": "store-a",
            "customer": {"external_id": "h-1"},
            "checkout_id": "co-1",
            "currency": "EUR",
            "total": "9.50",
            "started_at": NOW - timedelta(hours=1),
        },
    )
    assert (await activity(sessions, checkout)).outcomes == {"recorded": 1}
    assert (await activity(sessions, checkout, viewed)).outcomes == {"duplicate": 2}

    entries = await timeline(sessions, customer_id)
    assert kinds(entries) == ["order.paid", "order.placed", "checkout.started", "product.viewed"]
    assert entries[2].reference == {"checkout_id": "co-1", "store_id": "store-a"}
    assert entries[2].summary == {"total": "9.50", "currency": "EUR", "items": 0}
    assert entries[3].source == "shop/store-a"
    assert entries[3].occurred_at == NOW - timedelta(days=2)


async def test_anonymous_browsing_joins_the_shopper_once_identified(
    sessions, make_order, order_event
) -> None:
    def view(product: str, hours_ago: int) -> CloudEvent[dict[str, Any]]:
        return shop(
            "shop.product.viewed",
            {
                "store_id": "store-a",
                "product_id": product,
                "anonymous_id": "anon-7",
                "viewed_at": NOW - timedelta(hours=hours_ago),
            },
        )

    identified = shop(
        "shop.customer.identified",
        {
            "store_id": "store-a",
            "customer": {"email": "ida@example.com"},
            "anonymous_id": "anon-7",
            "identified_at": NOW - timedelta(hours=1),
        },
    )
    applied = await activity(sessions, view("p-1", 3), view("p-2", 2), identified)
    # The visitor is named, but nobody holds the email yet: all three wait under it.
    assert applied.outcomes == {"pending": 3, "joined": 2}
    other_visitor = shop(
        "shop.product.viewed",
        {"store_id": "store-b", "product_id": "p-3", "anonymous_id": "anon-7", "viewed_at": NOW},
    )
    assert (await activity(sessions, other_visitor)).outcomes == {"pending": 1}

    await apply(sessions, order_event(make_order(email="ida@example.com", placed_at=NOW)))
    ida = await customer_id_of(sessions, "ida@example.com")
    entries = await timeline(sessions, ida)
    assert kinds(entries) == [
        "order.paid",
        "order.placed",
        "customer.identified",
        "product.viewed",
        "product.viewed",
    ]
    assert [e.reference.get("product_id") for e in entries[3:]] == ["p-2", "p-1"]
    assert await count(sessions, PendingActivity) == 1  # another shop's visitor

    # Once the shopper is known, their earlier anonymous browsing goes straight to them.
    await activity(sessions, view("p-4", 5))
    identified_again = shop(
        "shop.customer.identified",
        {
            "store_id": "store-a",
            "customer": {"email": "IDA@example.com"},
            "anonymous_id": "anon-7",
            "identified_at": NOW,
        },
    )
    assert (await activity(sessions, identified_again)).outcomes == {"recorded": 1, "joined": 1}
    assert len(await timeline(sessions, ida)) == 7


async def test_events_naming_customers_follow_merges_and_skip_erased_customers(
    sessions, make_order, order_event
) -> None:
    for days, name in enumerate(("cy", "bob", "ann")):
        placed_at = NOW - timedelta(days=days + 1)
        await apply(
            sessions, order_event(make_order(email=f"{name}@example.com", placed_at=placed_at))
        )
    ann, bob, cy = [
        await customer_id_of(sessions, f"{name}@example.com") for name in ("ann", "bob", "cy")
    ]
    async with transaction(sessions) as session:
        await merges.merge_manually(
            session=session,
            survivor_id=ann,
            merged_id=bob,
            actor="tester",
            customers_topic=TOPIC,
            participants=(TimelineFollowsMerges(),),
        )
        await erasure.erase_customer(
            session=session, customer_id=cy, actor="tester", customers_topic=TOPIC, now=NOW
        )
    at = NOW - timedelta(minutes=5)
    to_bob = event("crm.ticket.created", {"ticket_id": "t-1", "customer_id": bob}, at=at)
    applied = await about_customers(
        sessions,
        to_bob,
        event("crm.ticket.created", {"ticket_id": "t-2", "customer_id": cy}, at=at),
        event("crm.ticket.created", {"ticket_id": "t-3", "customer_id": None}, at=at),
        event("crm.ticket.created", {"ticket_id": "t-4", "customer_id": "nobody"}, at=at),
        event("crm.ticket.created", {"ticket_id": "t-5", "customer_id": 7}, at=at),
    )
    assert applied.outcomes == {"recorded": 1, "erased": 1, "no_customer_id": 1}
    assert applied.rejected == {
        3: "no customer nobody (data.customer_id)",
        4: "data.customer_id must be a non-empty string",
    }
    entries = await timeline(sessions, ann)
    assert kinds(entries) == [
        "ticket.created",
        "order.paid",
        "order.placed",
        "order.paid",
        "order.placed",
    ]
    assert entries[1].reference["order_id"] != entries[3].reference["order_id"]
    assert entries[0].reference == {"ticket_id": "t-1"}
    assert await timeline(sessions, bob) == []
    assert (await about_customers(sessions, to_bob)).outcomes == {"duplicate": 1}
    # A rejected event is not claimed as applied: redriven, it is judged afresh.
    nobody = event("crm.ticket.created", {"ticket_id": "t-4", "customer_id": "nobody"}, at=at)
    assert (await about_customers(sessions, nobody)).rejected == {
        0: "no customer nobody (data.customer_id)"
    }


async def test_an_undone_merge_takes_its_entries_back(sessions, make_order, order_event) -> None:
    first = make_order(email="dee@example.com", placed_at=NOW - timedelta(days=2))
    second = make_order(email="eve@example.com", placed_at=NOW - timedelta(days=1))
    await apply(sessions, order_event(first))
    await apply(sessions, order_event(second))
    dee, eve = [await customer_id_of(sessions, e) for e in ("dee@example.com", "eve@example.com")]
    await about_customers(
        sessions, event("crm.message.sent", {"message_id": "m-1", "customer_id": eve}, at=NOW)
    )
    participants = (TimelineFollowsMerges(),)
    async with transaction(sessions) as session:
        outcome = await merges.merge_manually(
            session=session,
            survivor_id=dee,
            merged_id=eve,
            actor="tester",
            customers_topic=TOPIC,
            participants=participants,
        )
    assert len(await timeline(sessions, dee)) == 5
    # The merged customer's order moves on after the merge; its new milestone is the survivor's.
    refunded = second.model_copy(
        update={
            "version": 2,
            "financial_status": FinancialStatus.REFUNDED,
            "refunded_total": second.total,
            "updated_at": NOW - timedelta(hours=1),
        }
    )
    await apply(sessions, order_event(refunded, "crm.order.refunded"))
    assert len(await timeline(sessions, dee)) == 6

    async with transaction(sessions) as session:
        await merges.undo_merge(
            session=session,
            merge_id=outcome.entry.merge_id,
            actor="tester",
            customers_topic=TOPIC,
            participants=participants,
        )
    assert kinds(await timeline(sessions, dee)) == ["order.paid", "order.placed"]
    assert kinds(await timeline(sessions, eve)) == [
        "message.sent",
        "order.refunded",
        "order.paid",
        "order.placed",
    ]


async def test_erasure_removes_the_timeline_and_the_activity_waiting_for_it(
    sessions, make_order, order_event
) -> None:
    await apply(sessions, order_event(make_order(email="flo@example.com", customer_ref="f-1")))
    flo = await customer_id_of(sessions, "flo@example.com")
    # Activity can wait under a key the customer holds when it raced with the link.
    waiting = [
        (
            [digest(IdentityKey(IdentityKind.EMAIL, "flo@example.com"))],
            event_draft(event("shop.product.viewed", {"store_id": "store-a"}, at=NOW)),
            NOW + timedelta(days=30),
        ),
        (
            [digest(IdentityKey(IdentityKind.STORE_REF, "f-1", "store-b"))],
            event_draft(event("shop.product.viewed", {"store_id": "store-b"}, at=NOW)),
            NOW + timedelta(days=30),
        ),
    ]
    async with transaction(sessions) as session:
        await repository.add_pending(session=session, pending=waiting, now=NOW)
    assert len(await timeline(sessions, flo)) == 2

    async with transaction(sessions) as session:
        assert await service.erase(session=session, customer_ids=[flo]) == 2
    assert await timeline(sessions, flo) == []
    assert await count(sessions, PendingActivity) == 1  # another store's reference: not flo's

    async with transaction(sessions) as session:
        assert await service.purge_pending(session=session, now=NOW + timedelta(days=30)) == 1
    assert await count(sessions, PendingActivity) == 0
