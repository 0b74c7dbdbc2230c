"""What the service writes encrypted, on a real PostgreSQL database: ciphertexts only where a
value changed (encryption costs CPU), and lookups by keyed digest."""

from datetime import timedelta
from typing import Any

import pytest
from crm_common.db import transaction
from customer_profile import pii
from customer_profile.customers import service as customers
from customer_profile.customers.identities import digest, order_identity_keys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

TOPIC = "crm.customers.v1"
Sessions = async_sessionmaker[AsyncSession]
STORED = text(
    "SELECT c.email, c.phone, c.first_name, c.last_name,"
    " o.email AS order_email, o.phone AS order_phone, o.first_name AS order_first_name,"
    " i.normalised_value, i.value"
    " FROM customers c JOIN customer_orders o USING (customer_id)"
    " JOIN customer_identities i USING (customer_id) WHERE i.kind = 'email'"
)


async def apply(sessions: Sessions, event: Any) -> None:
    async with transaction(sessions) as session:
        await customers.apply_order_event(session=session, event=event, customers_topic=TOPIC)


async def stored(sessions: Sessions) -> list[Any]:
    async with sessions() as session:
        return [tuple(row) for row in (await session.execute(STORED)).all()]


async def test_a_newer_snapshot_with_the_same_contact_data_rewrites_no_ciphertext(
    sessions: Sessions, make_order, order_event
) -> None:
    placed = make_order(email="Nadia@Example.com", phone="+14155550142", version=1)
    paid = placed.model_copy(update={"version": 2})
    await apply(sessions, order_event(placed))
    before = await stored(sessions)

    await apply(sessions, order_event(paid, "crm.order.paid"))

    after = await stored(sessions)
    assert len(before) == 1
    assert after == before
    assert all(isinstance(value, bytes) for value in before[0][:-1])
    assert before[0][-1] == digest(order_identity_keys(placed)[0])


async def test_a_changed_name_is_encrypted_anew_and_the_rest_is_left_alone(
    sessions: Sessions, make_order, order_event
) -> None:
    first = make_order(email="omar@example.com", first_name="Omar", last_name="Haddad")
    await apply(sessions, order_event(first))
    before = (await stored(sessions))[0]

    later = make_order(
        email="omar@example.com",
        first_name="Omar",
        last_name="Haddad-Lind",
        placed_at=first.placed_at + timedelta(days=1),
    )
    await apply(sessions, order_event(later))

    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email="OMAR@example.com")
        raw = (
            await session.execute(text("SELECT email, first_name, last_name FROM customers"))
        ).one()
    assert found.customer.last_name == "Haddad-Lind"
    assert (raw.email, raw.first_name) == (before[0], before[2])
    assert raw.last_name != before[3]
    assert pii.decrypt_text("customers.last_name", raw.last_name) == "Haddad-Lind"
