"""Erasure and consents across merges, against a real PostgreSQL database."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.outbox import OutboxEvent
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentStatus, IdentityKind
from crm_events.registry import CONTRACTS
from customer_profile.consents import flows
from customer_profile.consents import service as consents
from customer_profile.consents.participants import ConsentsFollowMerges
from customer_profile.consents.schemas import ConsentChange
from customer_profile.customers import service as customers
from customer_profile.customers.identities import IdentityKey
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.merges import service as merges
from customer_profile.merges import suggestions
from customer_profile.merges.models import MergeLogEntry
from customer_profile.privacy import access, erasure
from customer_profile.privacy.exceptions import CustomerGone, MergedIntoAnother
from customer_profile.privacy.participants import ErasureGuard
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
ADMIN = "dpo@operator.test"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = IdentityPolicy(participants=(ErasureGuard(), ConsentsFollowMerges()))
Sessions = async_sessionmaker[AsyncSession]

# One person seen three ways (an email, a phone, a shop reference), and someone else.
EMAIL = "orsolya.brandvik@example.com"
OLD_EMAIL = "o.brandvik@example.net"
PHONE, PHONE_E164 = "020 7946 0789", "+442079460789"
PERSON_VALUES = [EMAIL, OLD_EMAIL, PHONE_E164, "2079460789", "Orsolya", "Brandvik", "ob-5"]
PROOF = {"ip": "192.0.2.44", "user_agent": "ObAgent/1.0"}
OTHER_EMAIL = "tamsin.rudd@example.com"


async def apply(sessions: Sessions, order: Any, order_event: Any) -> None:
    async with transaction(sessions) as session:
        await customers.apply_order_event(
            session=session, event=order_event(order), customers_topic=TOPIC, policy=POLICY
        )


async def by_email(sessions: Sessions, email: str) -> str:
    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email=email)
    return found.customer.customer_id


async def erase(sessions: Sessions, customer_id: str) -> erasure.Erasure | None:
    async with transaction(sessions) as session:
        return await erasure.erase_customer(
            session=session,
            customer_id=customer_id,
            actor=ADMIN,
            customers_topic=TOPIC,
            now=datetime.now(UTC),
        )


async def outbox(sessions: Sessions) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = (await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars()
        envelopes = [json.loads(row.payload) for row in rows]
    for envelope in envelopes:
        CONTRACTS.validate(envelope)
    return envelopes


async def relay(sessions: Sessions) -> None:
    """What the outbox relay does once Kafka has the events: delete them."""
    async with transaction(sessions) as session:
        await session.execute(delete(OutboxEvent))


async def grant_sms(sessions: Sessions, customer_id: str) -> None:
    async with transaction(sessions) as session:
        await flows.change_consent(
            session=session,
            customer_id=customer_id,
            channel=ConsentChannel.SMS,
            purpose=ConsentPurpose.MARKETING,
            change=ConsentChange(status=ConsentStatus.GRANTED, proof=PROOF),
            customers_topic=TOPIC,
            now=datetime.now(UTC),
        )


async def one_person_three_customers(sessions: Sessions, make_order: Any, order_event: Any):
    """Three customers of one person merged into the first (one merge by an order, one by an
    admin), and someone else with a merge suggestion naming the first."""
    person = {"first_name": "Orsolya", "last_name": "Brandvik", "billing_country": "GB"}
    await apply(
        sessions,
        make_order(email=EMAIL, accepts_marketing=True, placed_at=T0, **person),
        order_event,
    )
    await apply(
        sessions,
        make_order(email=None, phone=PHONE, placed_at=T0 + timedelta(1), **person),
        order_event,
    )
    await apply(
        sessions,
        make_order(email=OLD_EMAIL, customer_ref="ob-5", placed_at=T0 + timedelta(2), **person),
        order_event,
    )
    first = await by_email(sessions, EMAIL)
    third = await by_email(sessions, OLD_EMAIL)
    async with sessions() as session:
        (by_phone,) = await customers.find_customers(session=session, phone=PHONE_E164)
    second = by_phone.customer.customer_id
    await grant_sms(sessions, second)
    # An order with the email and the phone joins the first two customers.
    await apply(
        sessions,
        make_order(
            email=EMAIL, phone=PHONE, accepts_marketing=True, placed_at=T0 + timedelta(3), **person
        ),
        order_event,
    )
    async with transaction(sessions) as session:
        await merges.merge_manually(
            session=session,
            survivor_id=first,
            merged_id=third,
            actor=ADMIN,
            customers_topic=TOPIC,
            note="Orsolya Brandvik asked us to join her accounts",
            participants=POLICY.participants,
        )
    await apply(
        sessions,
        make_order(email=OTHER_EMAIL, first_name="Tamsin", last_name="Rudd", placed_at=T0),
        order_event,
    )
    other = await by_email(sessions, OTHER_EMAIL)
    async with transaction(sessions) as session:
        await suggestions.suggest(
            session=session,
            customer_ids=(first, other),
            identity=IdentityKey(IdentityKind.PHONE, PHONE_E164),
            now=datetime.now(UTC),
        )
    return first, second, third, other


async def test_consents_follow_a_merge_and_its_undo(sessions, make_order, order_event) -> None:
    first, second, _, _ = await one_person_three_customers(sessions, make_order, order_event)
    async with sessions() as session:
        held = await consents.consents_view(session=session, customer_id=first)
        log = await merges.log_page(session=session, customer_id=first, after_seq=0, limit=10)
    assert {(c.channel, c.status, c.source) for c in held.consents} == {
        ("email", "granted", "order"),
        ("sms", "granted", "api"),
    }
    automatic = next(e for e in log[0] if e.merged_id == second)
    async with transaction(sessions) as session:
        # The later manual merge builds on the automatic one: undo it first.
        manual = next(e for e in log[0] if e.merged_id != second)
        await merges.undo_merge(
            session=session,
            merge_id=manual.merge_id,
            actor=ADMIN,
            customers_topic=TOPIC,
            participants=POLICY.participants,
        )
    async with transaction(sessions) as session:
        await merges.undo_merge(
            session=session,
            merge_id=automatic.merge_id,
            actor=ADMIN,
            customers_topic=TOPIC,
            participants=POLICY.participants,
        )
    async with sessions() as session:
        survivor = await consents.consents_view(session=session, customer_id=first)
        restored = await customers.get_customer(session=session, customer_id=second)
    assert {(c.channel, c.status) for c in survivor.consents} == {("email", "granted")}
    assert restored is not None
    assert restored.customer.merged_into is None
    withdrawn = [
        e["data"]
        for e in await outbox(sessions)
        if e["type"] == "crm.customer.consent_changed" and e["subject"] == first
    ]
    assert (withdrawn[-1]["channel"], withdrawn[-1]["status"]) == ("sms", "withdrawn")


async def test_erasing_a_survivor_erases_everyone_merged_into_it(
    sessions, make_order, order_event, scan
) -> None:
    first, second, third, other = await one_person_three_customers(
        sessions, make_order, order_event
    )
    for merged in (second, third):
        with pytest.raises(MergedIntoAnother) as refused:
            await erase(sessions, merged)
        assert refused.value.status == 409
        assert refused.value.survivor_id == first

    async with sessions() as session:
        document = await access.export_customer(
            session=session, customer_id=first, now=datetime.now(UTC)
        )
        with pytest.raises(MergedIntoAnother):
            await access.export_customer(session=session, customer_id=second, now=T0)
    assert document is not None
    assert {m.profile.customer_id for m in document.merged_customers} == {second, third}
    assert len(document.orders) == 4
    assert len(document.other["merge_log"]) == 2
    assert len(document.other["merge_suggestions"]) == 1

    await relay(sessions)
    async with sessions() as session:
        assert await scan(session, PERSON_VALUES)
    done = await erase(sessions, first)

    assert done is not None
    assert done.erased_ids[0] == first
    assert sorted(done.erased_ids) == sorted([first, second, third])
    async with sessions() as session:
        assert await scan(session, [*PERSON_VALUES, *PROOF.values()]) == []
        # Someone else's data stays.
        assert await scan(session, [OTHER_EMAIL, "Tamsin"])
        untouched = await customers.get_customer(session=session, customer_id=other)
        snapshots = (await session.scalars(select(MergeLogEntry))).all()
        left = await session.scalar(text("SELECT count(*) FROM merge_suggestions"))
    assert {(row.snapshot["erased"], row.note) for row in snapshots} == {(True, None)}
    assert left == 0
    assert untouched is not None
    assert (untouched.customer.email, untouched.customer.first_name) == (OTHER_EMAIL, "Tamsin")
    assert [(e["type"], e["subject"]) for e in await outbox(sessions)] == [
        ("crm.customer.erased", first)
    ]

    async with sessions() as session:
        log, _ = await merges.log_page(session=session, customer_id=first, after_seq=0, limit=10)
    with pytest.raises(CustomerGone):
        async with transaction(sessions) as session:
            await merges.undo_merge(
                session=session,
                merge_id=log[-1].merge_id,
                actor=ADMIN,
                customers_topic=TOPIC,
                participants=POLICY.participants,
            )
    await apply(sessions, make_order(email=EMAIL, placed_at=T0 + timedelta(9)), order_event)
    assert await by_email(sessions, EMAIL) not in {first, second, third}
