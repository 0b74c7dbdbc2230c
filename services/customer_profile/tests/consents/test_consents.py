"""Consents from orders and from the API against a real PostgreSQL database."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.outbox import OutboxEvent
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentSource, ConsentStatus
from crm_events.registry import CONTRACTS
from customer_profile.consents import flows, service
from customer_profile.consents.exceptions import ConsentOverridden
from customer_profile.consents.schemas import ConsentChange
from customer_profile.customers import service as customers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
EMAIL, SMS = ConsentChannel.EMAIL, ConsentChannel.SMS
MARKETING, PROFILING = ConsentPurpose.MARKETING, ConsentPurpose.PROFILING
GRANTED, WITHDRAWN = ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN
Sessions = async_sessionmaker[AsyncSession]


async def apply(sessions: Sessions, event: CloudEvent[dict[str, Any]]) -> None:
    async with transaction(sessions) as session:
        await customers.apply_order_event(session=session, event=event, customers_topic=TOPIC)


async def change(
    sessions: Sessions,
    customer_id: str,
    status: ConsentStatus,
    *,
    channel: ConsentChannel = EMAIL,
    purpose: ConsentPurpose = MARKETING,
    **fields: Any,
) -> service.Recorded:
    async with transaction(sessions) as session:
        return await flows.change_consent(
            session=session,
            customer_id=customer_id,
            channel=channel,
            purpose=purpose,
            change=ConsentChange(status=status, **fields),
            customers_topic=TOPIC,
            now=datetime.now(UTC),
        )


async def published(sessions: Sessions) -> list[dict[str, Any]]:
    """Every event in the outbox, in commit order, each checked against its committed schema."""
    async with sessions() as session:
        rows = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars()
        envelopes = [json.loads(row.payload) for row in rows]
    for envelope in envelopes:
        CONTRACTS.validate(envelope)
    return envelopes


def consent_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == "crm.customer.consent_changed"]


async def view(sessions: Sessions, customer_id: str) -> service.ConsentsView:
    async with sessions() as session:
        return await service.consents_view(session=session, customer_id=customer_id)


async def customer_of(sessions: Sessions, email: str) -> customers.CustomerView:
    async with sessions() as session:
        found = await customers.find_customers(session=session, email=email)
    assert len(found) == 1
    return found[0]


async def test_an_order_accepting_marketing_grants_email_marketing_with_the_order_as_proof(
    sessions, make_order, order_event
) -> None:
    order = make_order(email="ada@example.com", accepts_marketing=True, store_id="store-a")
    await apply(sessions, order_event(order))

    customer = (await customer_of(sessions, "ada@example.com")).customer
    assert customer.accepts_marketing is True
    held = await view(sessions, customer.customer_id)
    assert [(c.channel, c.purpose, c.status, c.source) for c in held.consents] == [
        ("email", "marketing", "granted", "order")
    ]
    proof = {
        "order_id": order.order_id,
        "store_id": "store-a",
        "order_external_id": order.external_id,
    }
    assert held.consents[0].proof == proof
    assert held.consents[0].changed_at == order.updated_at
    assert len(held.log) == 1

    events = await published(sessions)
    assert events[-1]["type"] == "crm.customer.consent_changed"
    assert consent_events(events) == [
        {
            "customer_id": customer.customer_id,
            "channel": "email",
            "purpose": "marketing",
            "status": "granted",
            "source": "order",
            "changed_at": order.updated_at.isoformat().replace("+00:00", "Z"),
            "proof": proof,
        }
    ]
    # The same order again (a redelivery or a newer snapshot of it) changes nothing.
    await apply(sessions, order_event(order.model_copy(update={"version": 2}), "crm.order.paid"))
    assert len((await view(sessions, customer.customer_id)).log) == 1


async def test_an_order_without_the_flag_records_no_consent(
    sessions, make_order, order_event
) -> None:
    await apply(sessions, order_event(make_order(email="bob@example.com")))
    customer = (await customer_of(sessions, "bob@example.com")).customer
    assert await view(sessions, customer.customer_id) == ([], [])
    assert consent_events(await published(sessions)) == []


async def test_an_api_withdrawal_holds_against_later_order_flags(
    sessions, make_order, order_event
) -> None:
    first = make_order(email="cy@example.com", accepts_marketing=True)
    await apply(sessions, order_event(first))
    customer_id = (await customer_of(sessions, "cy@example.com")).customer.customer_id
    before = len(await published(sessions))

    recorded = await change(sessions, customer_id, WITHDRAWN, proof={"ip": "198.51.100.7"})
    assert recorded.consent is not None
    assert (recorded.consent.status, recorded.consent.source) == ("withdrawn", "api")
    withdrawal = (await published(sessions))[before:]
    assert [e["type"] for e in withdrawal] == [
        "crm.customer.consent_changed",
        "crm.customer.updated",
    ]
    assert withdrawal[0]["data"]["proof"] == {"ip": "198.51.100.7"}
    assert withdrawal[1]["data"]["accepts_marketing"] is False
    assert withdrawal[1]["data"]["version"] == 2

    later = make_order(
        email="cy@example.com", accepts_marketing=True, placed_at=first.placed_at + timedelta(7)
    )
    await apply(sessions, order_event(later))
    after = (await published(sessions))[before + 2 :]
    assert consent_events(after) == []
    customer = (await customer_of(sessions, "cy@example.com")).customer
    assert (customer.accepts_marketing, customer.orders_count) == (False, 2)
    held = await view(sessions, customer_id)
    assert [(c.status, c.source) for c in held.consents] == [("withdrawn", "api")]
    assert [(e.status, e.source) for e in held.log] == [("granted", "order"), ("withdrawn", "api")]


async def test_a_later_order_without_the_flag_withdraws_only_an_order_grant(
    sessions, make_order, order_event
) -> None:
    first = make_order(email="di@example.com", accepts_marketing=True)
    await apply(sessions, order_event(first))
    customer_id = (await customer_of(sessions, "di@example.com")).customer.customer_id
    unticked = make_order(email="di@example.com", placed_at=first.placed_at + timedelta(1))
    await apply(sessions, order_event(unticked))
    held = await view(sessions, customer_id)
    assert [(c.status, c.source) for c in held.consents] == [("withdrawn", "order")]
    assert held.consents[0].proof is not None
    assert held.consents[0].proof["order_id"] == unticked.order_id
    assert (await customer_of(sessions, "di@example.com")).customer.accepts_marketing is False

    # An explicit grant now holds against the next unticked box.
    await change(sessions, customer_id, GRANTED, source=ConsentSource.SHOP)
    third = make_order(email="di@example.com", placed_at=first.placed_at + timedelta(2))
    await apply(sessions, order_event(third))
    held = await view(sessions, customer_id)
    assert [(c.status, c.source) for c in held.consents] == [("granted", "shop")]
    assert (await customer_of(sessions, "di@example.com")).customer.accepts_marketing is True


async def test_an_older_explicit_decision_is_refused_and_an_equal_one_is_unchanged(
    sessions, make_order, order_event
) -> None:
    await apply(sessions, order_event(make_order(email="ed@example.com")))
    customer_id = (await customer_of(sessions, "ed@example.com")).customer.customer_id
    await change(sessions, customer_id, GRANTED, channel=SMS)
    count = len(await published(sessions))

    again = await change(sessions, customer_id, GRANTED, channel=SMS, proof={"form_id": "f-2"})
    assert again.outcome == "unchanged"
    stale = datetime.now(UTC) - timedelta(days=30)
    with pytest.raises(ConsentOverridden) as refused:
        await change(
            sessions, customer_id, WITHDRAWN, channel=SMS, source="import", changed_at=stale
        )
    assert refused.value.status == 409
    assert [e["field"] for e in refused.value.errors or []] == ["changed_at"]
    assert len(await published(sessions)) == count
    held = await view(sessions, customer_id)
    assert [(c.channel, c.status, c.source) for c in held.consents] == [("sms", "granted", "api")]
    assert len(held.log) == 1


async def test_merging_gives_the_survivor_the_union_and_undoing_restores_it(
    sessions, make_order, order_event
) -> None:
    placed = make_order(email="fay@example.com", accepts_marketing=True).placed_at
    await apply(sessions, order_event(make_order(email="fay@example.com", accepts_marketing=True)))
    await apply(sessions, order_event(make_order(email="fay.w@example.com", placed_at=placed)))
    survivor = (await customer_of(sessions, "fay@example.com")).customer.customer_id
    merged = (await customer_of(sessions, "fay.w@example.com")).customer.customer_id
    # The merged customer withdrew email marketing after the survivor's order grant and gave
    # sms marketing; the survivor alone gave profiling.
    await change(sessions, merged, WITHDRAWN, proof={"form_id": "prefs"})
    await change(sessions, merged, GRANTED, channel=SMS)
    await change(sessions, survivor, GRANTED, channel=SMS, purpose=PROFILING)
    now = datetime.now(UTC)

    async with transaction(sessions) as session:
        merge_events = await service.merge_consents(
            session=session, survivor_id=survivor, merged_id=merged, merge_id="m-1", now=now
        )
    for event in merge_events:
        CONTRACTS.validate(json.loads(event.model_dump_json()))
    assert sorted((e.data.channel, e.data.status, e.data.source) for e in merge_events) == [
        ("email", "withdrawn", "api"),
        ("sms", "granted", "api"),
    ]
    held = await view(sessions, survivor)
    assert {(c.channel, c.purpose, c.status, c.source) for c in held.consents} == {
        ("email", "marketing", "withdrawn", "api"),
        ("sms", "marketing", "granted", "api"),
        ("sms", "profiling", "granted", "api"),
    }
    assert {e.merge_id for e in held.log if e.reason == "merge"} == {"m-1"}
    # The merged customer keeps its own rows, for an undo.
    assert len((await view(sessions, merged)).consents) == 2

    async with transaction(sessions) as session:
        undo_events = await service.unmerge_consents(
            session=session, survivor_id=survivor, merge_id="m-1", now=now
        )
    assert sorted((e.data.channel, e.data.status, e.data.source) for e in undo_events) == [
        ("email", "granted", "order"),
        ("sms", "withdrawn", "api"),
    ]
    held = await view(sessions, survivor)
    assert {(c.channel, c.purpose, c.status, c.source) for c in held.consents} == {
        ("email", "marketing", "granted", "order"),
        ("sms", "profiling", "granted", "api"),
    }
    assert [e.reason for e in held.log].count("unmerge") == 2
