"""Widely shared identifiers on a real PostgreSQL database: suggestions instead of merges."""

from typing import Any

import pytest
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.merges import suggestions
from customer_profile.merges.exceptions import MergeConflict

pytestmark = pytest.mark.integration

SHOP_PHONE = "+1 415 555 0100"


async def listed(store, status: str | None = "open") -> list[Any]:
    async with store.sessions() as session:
        return await suggestions.suggestion_page(
            session=session, status=status, customer_id=None, after=None, limit=50
        )


async def test_a_widely_shared_phone_suggests_instead_of_merging(store) -> None:
    store.policy = IdentityPolicy(shared_identity_limit=2)
    await store.order(0, email="one@example.com", phone=SHOP_PHONE)
    await store.order(1, email="two@example.com", phone=SHOP_PHONE)
    holder = await store.by(phone="+14155550100")
    # Two people so far, within the limit: the second email linked to the phone's customer.
    assert holder.customer_id == (await store.by(email="two@example.com")).customer_id
    await store.order(2, email="three@example.com")
    third = await store.by(email="three@example.com")
    await store.new_events()

    await store.order(3, email="three@example.com", phone=SHOP_PHONE)

    # A third person with the same phone: no merge, the phone stays with its holder.
    events = await store.new_events()
    assert [e["type"] for e in events] == [
        "crm.customer.order_attributed",
        "crm.customer.updated",
    ]
    assert {e["subject"] for e in events} == {third.customer_id}
    assert await store.log() == []
    assert (await store.by(phone="+14155550100")).customer_id == holder.customer_id
    [suggestion] = await listed(store)
    assert (suggestion.survivor_id, suggestion.merged_id) == (holder.customer_id, third.customer_id)
    assert (suggestion.identity_kind, suggestion.identity_value) == ("phone", "+14155550100")

    # The same pair again suggests nothing new.
    await store.order(4, email="three@example.com", phone=SHOP_PHONE)
    assert len(await listed(store)) == 1

    # A new email with the phone no longer links to the holder: a customer of its own.
    await store.order(5, email="four@example.com", phone=SHOP_PHONE)
    fourth = await store.by(email="four@example.com")
    assert fourth.customer_id != holder.customer_id
    assert [i.kind for i in fourth.identities] == ["email"]
    # An order with only the phone makes a customer without identities, suggested too.
    await store.order(6, email=None, phone=SHOP_PHONE)
    assert len(await listed(store)) == 3
    assert (await store.by(phone="+14155550100")).stats.orders_count == 2


async def test_the_default_limit_lets_three_people_share_a_value(store) -> None:
    for day, email in enumerate(["a@example.com", "b@example.com", "c@example.com"]):
        await store.order(day, email=email, phone=SHOP_PHONE)
    holder = await store.by(phone="+14155550100")
    assert len(holder.identities) == 4
    await store.order(3, email="d@example.com", phone=SHOP_PHONE)
    fourth = await store.by(email="d@example.com")
    assert fourth.customer_id != holder.customer_id
    [suggestion] = await listed(store)
    assert suggestion.merged_id == fourth.customer_id


async def test_a_suggestion_is_accepted_by_merging_and_reopened_by_undo(store) -> None:
    store.policy = IdentityPolicy(shared_identity_limit=1)
    await store.order(0, email="one@example.com", phone=SHOP_PHONE)
    await store.order(1, email="two@example.com", phone=SHOP_PHONE)
    [open_one] = await listed(store)

    merge = await store.merge(open_one.survivor_id, open_one.merged_id)
    [accepted] = await listed(store, "merged")
    assert (accepted.suggestion_id, accepted.merge_id) == (
        open_one.suggestion_id,
        merge.entry.merge_id,
    )
    assert merge.entry.snapshot["suggestions"] == [open_one.suggestion_id]
    assert await listed(store) == []

    await store.undo(merge.entry.merge_id)
    [reopened] = await listed(store)
    assert (reopened.suggestion_id, reopened.merge_id) == (open_one.suggestion_id, None)


async def test_a_dismissed_suggestion_stays_dismissed(store) -> None:
    store.policy = IdentityPolicy(shared_identity_limit=1)
    await store.order(0, email="one@example.com", phone=SHOP_PHONE)
    await store.order(1, email="two@example.com", phone=SHOP_PHONE)
    [suggestion] = await listed(store)
    async with store.sessions() as session, session.begin():
        dismissed = await suggestions.dismiss(
            session=session, suggestion_id=suggestion.suggestion_id, actor="admin@example.com"
        )
    assert (dismissed.status, dismissed.resolved_by) == ("dismissed", "admin@example.com")

    await store.order(2, email="two@example.com", phone=SHOP_PHONE)
    assert await listed(store) == []
    assert [s.suggestion_id for s in await listed(store, None)] == [suggestion.suggestion_id]
    async with store.sessions() as session, session.begin():
        with pytest.raises(MergeConflict) as again:
            await suggestions.dismiss(
                session=session, suggestion_id=suggestion.suggestion_id, actor="someone"
            )
    assert again.value.status == 409
