"""Migration 0005_pii_encryption on a database holding plain personal data (as 0004 left it)."""

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from crm_common import db
from crm_events.customer import IdentityKind
from customer_profile.consents import repository as consents
from customer_profile.customers import service as customers
from customer_profile.customers.identities import IdentityKey, digest
from customer_profile.main import MIGRATIONS
from customer_profile.merges import service as merges
from customer_profile.merges.models import MergeSuggestion
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

T = datetime(2026, 5, 1, tzinfo=UTC)
EMAIL = IdentityKey(IdentityKind.EMAIL, "mirela.ostrova@example.com")
PHONE = IdentityKey(IdentityKind.PHONE, "+442079460777")
REF = IdentityKey(IdentityKind.STORE_REF, "mo-5", "store-a")
OTHER = IdentityKey(IdentityKind.EMAIL, "kasimir.ostrov@example.com")
PLAIN = ["mirela.ostrova@example.com", "+442079460777", "Mirela", "Ostrova", "mo-5"]
PLAIN += ["kasimir.ostrov@example.com", "Kasimir", "203.0.113.77", "merged by hand"]


def legacy(key: IdentityKey) -> str:
    text_ = "\x1f".join((key.kind.value, key.store_id or "", key.value))
    return hashlib.sha256(text_.encode()).hexdigest()


def _migrate(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def migrate(engine: AsyncEngine, action: str, revision: str) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(_migrate, action, revision)
        await connection.commit()


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(fresh_database, pool_size=2)
    yield engine
    await engine.dispose()


async def fill_before_0005(engine: AsyncEngine) -> None:
    """Two customers, one merged into the other, as the service stored them before 0005."""
    rows: list[tuple[str, dict[str, Any]]] = [
        (
            "INSERT INTO customers (customer_id, email, phone, first_name, last_name,"
            " accepts_marketing, orders_count, total_spent, version, created_at, updated_at,"
            " merged_into) VALUES (:id, :email, :phone, :first, :last, true, 1, 10, 2, :t, :t,"
            " :merged_into)",
            {"id": "c-1", "email": EMAIL.value, "phone": PHONE.value, "first": "Mirela"}
            | {"last": "Ostrova", "t": T, "merged_into": None},
        ),
        (
            "INSERT INTO customers (customer_id, email, phone, first_name, last_name,"
            " accepts_marketing, orders_count, total_spent, version, created_at, updated_at,"
            " merged_into) VALUES (:id, :email, null, :first, null, false, 0, 0, 1, :t, :t,"
            " :merged_into)",
            {"id": "c-2", "email": OTHER.value, "first": "Kasimir", "t": T, "merged_into": "c-1"},
        ),
        (
            "INSERT INTO customer_orders (order_id, customer_id, store_id, external_id,"
            " placed_at, currency, net_paid, cancelled, order_version, email, phone,"
            " first_name, last_name, accepts_marketing, attributed_at) VALUES ('o-1', 'c-1',"
            " 'store-a', '1001', :t, 'EUR', 10, false, 1, :email, :phone, 'Mirela', 'Ostrova',"
            " true, :t)",
            {"t": T, "email": EMAIL.value, "phone": PHONE.value},
        ),
    ]
    for key, owner in ((EMAIL, "c-1"), (PHONE, "c-1"), (REF, "c-1"), (OTHER, "c-1")):
        rows.append(
            (
                "INSERT INTO customer_identities (kind, store_id, value, customer_id,"
                " linked_at, order_id) VALUES (:kind, :store, :value, :owner, :t, 'o-1')",
                {"kind": key.kind.value, "store": key.store_id or "", "value": key.value}
                | {"owner": owner, "t": T},
            )
        )
    snapshot = {
        "survivor": {"email": EMAIL.value, "first_name": "Mirela"},
        "merged": {"email": OTHER.value, "first_name": "Kasimir"},
        "identity": None,
        "identities": [{"kind": "email", "value": OTHER.value, "store_id": None}],
        "orders": [],
        "fields_changed": {},
        "suggestions": [],
    }
    rows += [
        (
            "INSERT INTO merge_log (seq, entry_id, action, merge_id, survivor_id, merged_id, at,"
            " actor, reason, note, snapshot) VALUES (1, 'm-1', 'merge', 'm-1', 'c-1', 'c-2', :t,"
            " 'admin@test', 'manual', 'merged by hand', CAST(:snapshot AS jsonb))",
            {"t": T, "snapshot": json.dumps(snapshot)},
        ),
        (
            "INSERT INTO merge_suggestions (suggestion_id, survivor_id, merged_id, identity_kind,"
            " identity_store_id, identity_value, identity_digest, status, created_at) VALUES"
            " ('s-1', 'c-1', 'c-2', 'phone', null, :value, :digest, 'open', :t)",
            {"value": PHONE.value, "digest": legacy(PHONE), "t": T},
        ),
        (
            "INSERT INTO customer_consents (customer_id, channel, purpose, status, source,"
            " changed_at, proof, recorded_at) VALUES ('c-1', 'email', 'marketing', 'granted',"
            " 'api', :t, CAST(:proof AS jsonb), :t), ('c-1', 'sms', 'marketing', 'withdrawn',"
            " 'api', :t, 'null'::jsonb, :t)",
            {"t": T, "proof": json.dumps({"ip": "203.0.113.77"})},
        ),
        (
            "INSERT INTO consent_log (entry_id, customer_id, channel, purpose, status, source,"
            " changed_at, proof, recorded_at) VALUES (1, 'c-1', 'email', 'marketing', 'granted',"
            " 'api', :t, CAST(:proof AS jsonb), :t)",
            {"t": T, "proof": json.dumps({"ip": "203.0.113.77"})},
        ),
        (
            "INSERT INTO identity_sightings (identity_digest, partner_digest, first_seen_at)"
            " VALUES (:phone, :email, :t), (:phone, :unknown, :t)",
            {"phone": legacy(PHONE), "email": legacy(EMAIL), "unknown": "0" * 64, "t": T},
        ),
        (
            "INSERT INTO timeline_pending (source_key, identity_digests, occurred_at, kind,"
            " source, reference, summary, received_at, expires_at) VALUES"
            " ('p-1', :known, :t, 'cart.updated', 'shop/store-a', '{}', '{}', :t, :until),"
            " ('p-2', :unknown, :t, 'product.viewed', 'shop/store-a', '{}', '{}', :t, :until)",
            {"known": [legacy(REF), "f" * 64], "unknown": ["e" * 64], "t": T}
            | {"until": T + timedelta(days=30)},
        ),
    ]
    async with engine.begin() as connection:
        for statement, params in rows:
            await connection.execute(text(statement), params)


async def plain_text_left(engine: AsyncEngine) -> list[str]:
    """`table.column: value` wherever a plain value is still stored, in any text-ish column."""
    async with engine.connect() as connection:
        columns = (
            await connection.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND data_type IN"
                    " ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')"
                )
            )
        ).all()
        found = []
        for table, column, data_type in columns:
            as_text = f"encode({column}, 'escape')" if data_type == "bytea" else f"{column}::text"
            for value in PLAIN:
                hits = await connection.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE {as_text} ILIKE :pattern"),
                    {"pattern": f"%{value}%"},
                )
                if hits:
                    found.append(f"{table}.{column}: {value}")
    return found


async def test_0005_encrypts_what_was_plain_rekeys_digests_and_downgrades_back(engine) -> None:
    await migrate(engine, "upgrade", "0004_timeline_scoring")
    await fill_before_0005(engine)
    assert len(await plain_text_left(engine)) >= len(PLAIN)

    await migrate(engine, "upgrade", "0005_pii_encryption")

    assert await plain_text_left(engine) == []
    sessions = db.session_factory(engine)
    async with sessions() as session:
        (found,) = await customers.find_customers(session=session, email=EMAIL.value.upper())
        by_phone = await customers.find_customers(session=session, phone=PHONE.value)
        merge = await merges.merge_entry(session=session, merge_id="m-1")
        suggestion = await session.get(MergeSuggestion, "s-1")
        held = await consents.consents_of(session=session, customer_id="c-1")
        log = await consents.log_of(session=session, customer_id="c-1")
        sightings = (await session.execute(text("SELECT * FROM identity_sightings"))).all()
        pending = (
            await session.execute(text("SELECT source_key, identity_digests FROM timeline_pending"))
        ).all()
        orders = (
            await session.execute(text("SELECT order_id FROM customer_orders WHERE email IS NULL"))
        ).all()
    assert found.customer.customer_id == "c-1"
    assert [c.customer.customer_id for c in by_phone] == ["c-1"]
    assert (found.customer.email, found.customer.first_name, found.customer.last_name) == (
        EMAIL.value,
        "Mirela",
        "Ostrova",
    )
    assert {i.normalised_value for i in found.identities} == {
        EMAIL.value,
        PHONE.value,
        REF.value,
        OTHER.value,
    }
    assert {i.value for i in found.identities} == {digest(k) for k in (EMAIL, PHONE, REF, OTHER)}
    assert merge.note == "merged by hand"
    assert merge.snapshot["merged"] == {"email": OTHER.value, "first_name": "Kasimir"}
    assert suggestion is not None
    assert (suggestion.identity_value, suggestion.identity_digest) == (PHONE.value, digest(PHONE))
    assert {(c.channel, json.dumps(c.proof)) for c in held} == {
        ("email", '{"ip": "203.0.113.77"}'),
        ("sms", "null"),
    }
    assert [entry.proof for entry in log] == [{"ip": "203.0.113.77"}]
    # Digests of values known nowhere (a partner, an anonymous visitor) cannot be re-keyed.
    assert [(s.identity_digest, s.partner_digest) for s in sightings] == [
        (digest(PHONE), digest(EMAIL))
    ]
    assert pending == [("p-1", [digest(REF)])]
    assert orders == []

    await migrate(engine, "downgrade", "0004_timeline_scoring")

    async with engine.connect() as connection:
        identities = (
            await connection.execute(text("SELECT kind, store_id, value FROM customer_identities"))
        ).all()
        customer = (
            await connection.execute(
                text("SELECT email, first_name FROM customers WHERE customer_id = 'c-2'")
            )
        ).one()
        suggested = await connection.scalar(text("SELECT identity_digest FROM merge_suggestions"))
        restored = (await connection.execute(text("SELECT * FROM identity_sightings"))).all()
        waiting = await connection.scalar(text("SELECT identity_digests FROM timeline_pending"))
        proof = await connection.scalar(text("SELECT proof FROM consent_log"))
    assert {(k, s or None, v) for k, s, v in identities} == {
        (key.kind.value, key.store_id, key.value) for key in (EMAIL, PHONE, REF, OTHER)
    }
    assert tuple(customer) == (OTHER.value, "Kasimir")
    assert suggested == legacy(PHONE)
    assert [(s.identity_digest, s.partner_digest) for s in restored] == [
        (legacy(PHONE), legacy(EMAIL))
    ]
    assert waiting == [legacy(REF)]
    assert proof == {"ip": "203.0.113.77"}

    await migrate(engine, "upgrade", "head")
    assert await plain_text_left(engine) == []
