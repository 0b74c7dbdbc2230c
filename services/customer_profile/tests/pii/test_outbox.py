"""The events waiting in the outbox, sealed under the keyring: opened to the very bytes staged,
rows staged in clear before the upgrade relayed as they are, and every key still needed shown."""

import json
import secrets
from typing import Any

import pytest
from crm_common.db import transaction
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.outbox import OutboxEvent, seal_payloads
from customer_profile import pii
from customer_profile.customers import service as customers
from customer_profile.pii import OutboxSealer, PiiDecryptionError, rotation
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TOPIC = "crm.customers.v1"
EMAIL = "marguerite.oyelaran@example.com"
LOOKUP = b"L" * 32
Sessions = async_sessionmaker[AsyncSession]


def _payload() -> bytes:
    event = CloudEvent[dict[str, Any]](
        source="customer-profile",
        type="crm.customer.created",
        subject="c-1",
        data={"customer_id": "c-1", "email": EMAIL, "first_name": "Marguerite"},
    )
    return to_json_bytes(event)


def _ring(keys: dict[str, bytes], active: str) -> pii.Keyring:
    return pii.Keyring(keys=keys, active_key=active, lookup_key=LOOKUP)


def test_a_sealed_event_opens_to_its_bytes_and_shows_nothing_of_them() -> None:
    sealer = OutboxSealer(pii.keyring())
    payload = _payload()

    sealed = sealer.seal(payload)

    assert sealer.open(sealed) == payload
    assert not sealed.startswith(b"{")
    assert b"oyelaran" not in sealed.lower()
    assert b"Marguerite" not in sealed
    assert sealer.seal(payload) != sealed


def test_an_event_stored_in_clear_before_the_upgrade_is_relayed_as_it_is() -> None:
    payload = _payload()
    assert OutboxSealer(pii.keyring()).open(payload) == payload


def test_an_event_sealed_under_the_previous_key_opens_while_that_key_is_listed() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    payload = _payload()
    sealed = OutboxSealer(_ring({"old": old}, "old")).seal(payload)

    assert OutboxSealer(_ring({"old": old, "new": new}, "new")).open(sealed) == payload
    with pytest.raises(PiiDecryptionError, match="unknown PII key 'old'"):
        OutboxSealer(_ring({"new": new}, "new")).open(sealed)


def test_a_column_value_or_an_altered_payload_does_not_open() -> None:
    sealer = OutboxSealer(pii.keyring())
    column_value = pii.encrypt_text("customers.email", _payload().decode())
    altered = bytearray(sealer.seal(_payload()))
    altered[-1] ^= 1

    with pytest.raises(PiiDecryptionError):
        sealer.open(column_value)
    with pytest.raises(PiiDecryptionError):
        sealer.open(bytes(altered))


@pytest.mark.integration
async def test_an_orders_events_wait_sealed_and_status_counts_them_under_their_key(
    sessions: Sessions, make_order, order_event
) -> None:
    # Written by a replica still on the previous key, then rotated: outbox rows are not
    # rewritten (the relay opens them under any listed key), and status keeps the key needed.
    seal_payloads(sessions, OutboxSealer(pii.keyring().with_active_key("test1")))
    order = make_order(email=EMAIL, first_name="Marguerite", phone="+14155550177")
    async with transaction(sessions) as session:
        await customers.apply_order_event(
            session=session, event=order_event(order), customers_topic=TOPIC
        )
    legacy = CloudEvent[dict[str, Any]](source="customer-profile", type="test.legacy", data={})
    async with transaction(sessions) as session:
        # A row in clear, as a release before sealing left it.
        session.add(OutboxEvent(event_id=legacy.id, topic=TOPIC, payload=to_json_bytes(legacy)))
    report = await rotation.rotate(sessions=sessions)

    async with sessions() as session:
        stored = list(
            (await session.execute(select(OutboxEvent.payload).order_by(OutboxEvent.seq)))  # type: ignore[arg-type]
            .scalars()
            .all()
        )
        usage = await rotation.outbox_key_usage(session=session)
    sealed = stored[:-1]
    assert report.active_key == "test2"
    assert usage == {"test1": len(sealed)}
    assert not any(b"oyelaran" in blob.lower() or b"4155550177" in blob for blob in sealed)
    opened = [json.loads(OutboxSealer(pii.keyring()).open(blob)) for blob in stored]
    assert {event["type"] for event in opened[:-1]} >= {
        "crm.customer.created",
        "crm.customer.order_attributed",
    }
    assert EMAIL in json.dumps(opened)
    assert opened[-1]["id"] == legacy.id
