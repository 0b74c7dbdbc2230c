"""Manual merges and their undo on a real PostgreSQL database: the log makes merges reversible."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from customer_profile.customers.models import Customer
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.main import merge_participants
from customer_profile.merges.exceptions import (
    InvalidMerge,
    MergeConflict,
    MergeNotFound,
    UndoBlocked,
)
from customer_profile.scoring import repository as scoring
from customer_profile.timeline import service as timeline
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.integration

# What an undo cannot give back: the version only grows, and the change is a change.
MOVING = {"version", "updated_at"}


def types(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["subject"]) for e in events]


def profile(customer: Any) -> dict[str, Any]:
    return customer.model_dump(exclude=MOVING)


async def two_customers(store) -> tuple[Any, Any]:
    await store.order(
        0, email="ada@example.com", customer_ref="a-1", first_name="Ada", accepts_marketing=True
    )
    await store.order(3, email="ada@example.com", total="12.50", last_name=None)
    await store.order(
        1,
        email=None,
        phone="+44 20 7946 0958",
        customer_ref="b-7",
        store_id="store-b",
        first_name="Augusta",
        last_name="King",
        currency="EUR",
        total="7.00",
    )
    return await store.by(email="ada@example.com"), await store.by(phone="+442079460958")


async def test_a_manual_merge_and_its_undo_restore_both_customers(store) -> None:
    older, younger = await two_customers(store)
    await store.new_events()

    # The caller chooses the survivor: here the younger customer.
    merge = await store.merge(younger.customer_id, older.customer_id, note="same person")
    assert (merge.entry.actor, merge.entry.reason, merge.entry.note) == (
        "admin@example.com",
        "manual",
        "same person",
    )
    events = await store.new_events()
    assert types(events) == [
        ("crm.customer.merged", older.customer_id),
        ("crm.customer.updated", younger.customer_id),
    ]
    assert events[0]["data"]["reason"] == "manual"
    merged = await store.read(younger.customer_id)
    assert len(merged.identities) == 4
    assert merged.stats.orders_count == 3
    assert merged.created_at == older.created_at
    assert merged.email == "ada@example.com"
    assert (merged.first_name, merged.last_name) == ("Ada", "King")
    assert (await store.read(older.customer_id)).merged_into == younger.customer_id

    undo = await store.undo(merge.entry.merge_id)

    assert (undo.entry.action, undo.entry.merge_id) == ("undo", merge.entry.merge_id)
    events = await store.new_events()
    assert types(events) == [
        ("crm.customer.unmerged", older.customer_id),
        ("crm.customer.identity_linked", older.customer_id),
        ("crm.customer.identity_linked", older.customer_id),
        ("crm.customer.order_attributed", older.customer_id),
        ("crm.customer.order_attributed", older.customer_id),
        ("crm.customer.updated", older.customer_id),
        ("crm.customer.updated", younger.customer_id),
    ]
    unmerged = events[0]["data"]
    assert unmerged["merge_id"] == merge.entry.merge_id
    assert sorted(i["value"] for i in unmerged["identities"]) == ["a-1", "ada@example.com"]
    assert len(unmerged["order_ids"]) == 2
    restored_older = await store.read(older.customer_id)
    restored_younger = await store.read(younger.customer_id)
    assert profile(restored_older) == profile(older)
    assert profile(restored_younger) == profile(younger)
    assert restored_older.version == older.version + 1
    assert restored_younger.version == younger.version + 2
    assert events[-2]["data"]["version"] == restored_older.version

    log = await store.log(older.customer_id)
    assert [(e.action, e.merge_id) for e in log] == [
        ("merge", merge.entry.merge_id),
        ("undo", merge.entry.merge_id),
    ]


async def timeline_orders(store, customer_id: str) -> set[str]:
    """The orders the customer's timeline shows."""
    async with store.sessions() as session:
        entries, _ = await timeline.page(
            session=session, customer_id=customer_id, cursor=None, limit=100
        )
    return {entry.order_id for entry in entries if entry.order_id is not None}


async def test_undo_gives_the_joining_order_to_whom_its_stronger_identity_names(store) -> None:
    store.policy = IdentityPolicy(participants=merge_participants())
    m1 = await store.order(0, email="x@example.com", phone="+44 20 7946 0958", total="10.00")
    m2 = await store.order(1, email="y@example.com", customer_ref="r-1", total="7.00")
    x, y = await store.by(email="x@example.com"), await store.by(email="y@example.com")
    # Y's email and shop reference and X's phone: Y merges into X, the older.
    m3 = await store.order(
        2, email="y@example.com", customer_ref="r-1", phone="+44 20 7946 0958", total="3.00"
    )
    [merge] = await store.log()
    assert (merge.survivor_id, merge.merged_id) == (x.customer_id, y.customer_id)
    await store.new_events()

    await store.undo(merge.merge_id)

    # Without the merge m3 is Y's: its email outranks the phone that named X.
    after_x, after_y = await store.read(x.customer_id), await store.read(y.customer_id)
    assert (after_x.stats.orders_count, after_x.stats.total_spent) == (1, Decimal("10.00"))
    assert (after_y.stats.orders_count, after_y.stats.total_spent) == (2, Decimal("10.00"))
    assert after_x.stats.first_order_at == after_x.stats.last_order_at == m1.placed_at
    assert (after_y.stats.first_order_at, after_y.stats.last_order_at) == (
        m2.placed_at,
        m3.placed_at,
    )
    # The order's contact data are the identities that name its customer: X's phone stays X's.
    assert (after_y.email, after_y.phone) == ("y@example.com", None)
    assert (after_x.email, after_x.phone) == ("x@example.com", "+442079460958")
    assert await timeline_orders(store, x.customer_id) == {m1.order_id}
    assert await timeline_orders(store, y.customer_id) == {m2.order_id, m3.order_id}
    async with store.sessions() as session:
        [x_rfm] = await scoring.rfm_of(session=session, customer_id=x.customer_id)
        [y_rfm] = await scoring.rfm_of(session=session, customer_id=y.customer_id)
    assert (x_rfm.orders_count, x_rfm.monetary) == (1, Decimal("10.00"))
    assert (y_rfm.orders_count, y_rfm.monetary) == (2, Decimal("10.00"))

    events = await store.new_events()
    [unmerged] = [e["data"] for e in events if e["type"] == "crm.customer.unmerged"]
    assert sorted(unmerged["order_ids"]) == sorted([m2.order_id, m3.order_id])
    attributed = {
        e["data"]["order_id"]: e["data"]["customer_id"]
        for e in events
        if e["type"] == "crm.customer.order_attributed"
    }
    assert attributed == {m2.order_id: y.customer_id, m3.order_id: y.customer_id}
    updated = {e["subject"]: e["data"] for e in events if e["type"] == "crm.customer.updated"}
    assert updated[y.customer_id]["stats"]["orders_count"] == 2
    assert updated[x.customer_id]["stats"]["orders_count"] == 1


async def test_undo_replays_the_orders_that_came_after_the_merge(store) -> None:
    await store.order(0, email="x@example.com")
    await store.order(1, email="y@example.com", phone="+1 415 555 0100")
    x, y = await store.by(email="x@example.com"), await store.by(email="y@example.com")
    merge = await store.merge(x.customer_id, y.customer_id)
    only_y = await store.order(2, email="y@example.com")
    # The email outranks the phone: this one stays X's, and Y's phone is no contact of it.
    x_and_y_phone = await store.order(3, email="x@example.com", phone="+1 415 555 0100")
    # Y's phone and an email new after the merge: both Y's without it...
    y_phone_new_email = await store.order(4, email="z@example.com", phone="+1 415 555 0100")
    # ...so an order with only that email is Y's too.
    only_new_email = await store.order(5, email="z@example.com")
    only_x = await store.order(6, email="x@example.com")

    await store.undo(merge.entry.merge_id)

    orders = {o.order_id for o in (only_y, y_phone_new_email, only_new_email)}
    events = await store.new_events()
    [unmerged] = [e["data"] for e in events if e["type"] == "crm.customer.unmerged"]
    assert orders < set(unmerged["order_ids"])
    assert {only_x.order_id, x_and_y_phone.order_id}.isdisjoint(unmerged["order_ids"])
    after_x, after_y = await store.read(x.customer_id), await store.read(y.customer_id)
    assert (after_x.stats.orders_count, after_y.stats.orders_count) == (3, 4)
    assert (after_x.phone, after_y.phone) == (None, "+14155550100")
    assert sorted(i.value for i in after_y.identities) == [
        "+14155550100",
        "y@example.com",
        "z@example.com",
    ]
    assert (await store.by(email="z@example.com")).customer_id == y.customer_id
    assert [i.value for i in after_x.identities] == ["x@example.com"]


async def test_undo_is_refused_while_later_merges_build_on_it(store) -> None:
    await store.order(0, email="ada@example.com")
    await store.order(1, email=None, phone="+1 415 555 0100")
    await store.order(2, email=None, customer_ref="c-1")
    before = [
        await store.by(email="ada@example.com"),
        await store.by(phone="+14155550100"),
        await store.by(store_id="store-a", external_id="c-1"),
    ]
    await store.order(3, email="ada@example.com", phone="+1 415 555 0100", customer_ref="c-1")
    first, second = await store.log()

    with pytest.raises(UndoBlocked) as blocked:
        await store.undo(first.merge_id)
    assert blocked.value.status == 409
    assert blocked.value.blocking == [second.merge_id]
    assert second.merge_id in blocked.value.detail

    await store.undo(second.merge_id)
    await store.undo(first.merge_id)
    after = [await store.read(c.customer_id) for c in before]
    # Each customer is back with its own identity and order; the joining order stays with the
    # survivor, which it reached after the merges.
    assert [len(c.identities) for c in after] == [1, 1, 1]
    assert [c.stats.orders_count for c in after] == [2, 1, 1]
    assert [c.merged_into for c in after] == [None, None, None]


async def test_merge_and_undo_refuse_what_cannot_be_done(store) -> None:
    older, younger = await two_customers(store)
    with pytest.raises(InvalidMerge) as itself:
        await store.merge(older.customer_id, older.customer_id)
    assert itself.value.errors[0]["field"] == "merge_with"
    with pytest.raises(MergeNotFound) as unknown:
        await store.merge(older.customer_id, "no-such-customer")
    assert (unknown.value.status, unknown.value.errors[0]["field"]) == (404, "merge_with")

    merge = await store.merge(older.customer_id, younger.customer_id)
    with pytest.raises(MergeConflict) as again:
        await store.merge(younger.customer_id, older.customer_id)
    assert again.value.status == 409
    assert again.value.errors[0]["field"] == "path.customer_id"
    assert again.value.errors[0]["merged_into"] == older.customer_id

    await store.undo(merge.entry.merge_id)
    with pytest.raises(MergeConflict) as twice:
        await store.undo(merge.entry.merge_id)
    assert "already undone" in twice.value.detail
    with pytest.raises(MergeNotFound):
        await store.undo("no-such-merge")


class Recorder:
    """A merge participant that remembers its calls and tags the survivor's first name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    async def merged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[Any]:
        self.calls.append(("merged", survivor.customer_id, merged.customer_id, merge_id))
        survivor.first_name = "Merged"
        return []

    async def unmerged(
        self,
        *,
        session: AsyncSession,
        survivor: Customer,
        merged: Customer,
        merge_id: str,
        now: datetime,
    ) -> list[Any]:
        self.calls.append(("unmerged", survivor.customer_id, merged.customer_id, merge_id))
        return []


async def test_participants_follow_merges_and_undos(store) -> None:
    recorder = Recorder()
    store.policy = IdentityPolicy(participants=(recorder,))
    older, younger = await two_customers(store)
    merge = await store.merge(older.customer_id, younger.customer_id)
    merge_id = merge.entry.merge_id
    assert (await store.read(older.customer_id)).first_name == "Merged"
    assert merge.entry.snapshot["fields_changed"]["first_name"]["after"] == "Merged"
    await store.undo(merge_id)
    pair = (older.customer_id, younger.customer_id)
    assert recorder.calls == [("merged", *pair, merge_id), ("unmerged", *pair, merge_id)]
