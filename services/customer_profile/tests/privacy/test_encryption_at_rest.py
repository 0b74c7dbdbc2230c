"""Personal data encrypted at rest, through the running service on real Kafka and PostgreSQL: the
database alone shows no one, the API shows everything."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_common import db
from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.outbox import OutboxEvent, add_event
from crm_events.shop import Address
from crm_events.shop_activity import SHOP_CUSTOMER_UPSERTED, ShopCustomerUpserted
from customer_profile import pii
from customer_profile.addresses import service as addresses
from customer_profile.contacts import accounts
from customer_profile.customers import service as customers
from sqlalchemy import select, text

pytestmark = pytest.mark.integration

EMAIL = "Ysolde.Brannagh@Example.com"
OTHER_EMAIL = "y.brannagh.work@example.com"
ADDRESS = Address(
    name="Ysolde Brannagh",
    line1="17 Quillfeather Lane",
    line2="Flat Nine",
    city="Dunmorrow",
    region="Wexbury",
    postal_code="DM4 7QX",
    country="GB",
)
PROOF = {"ip": "198.51.100.144", "user_agent": "YsoldeBrowser/2.7"}
NOTE = "Ysolde Brannagh asked us to join her work account"
# Every form in which the person's data could be stored: as sent, lower-cased, E.164, digits.
PERSONAL_VALUES = [
    EMAIL,
    EMAIL.lower(),
    OTHER_EMAIL,
    "+44 20 7946 0958",
    "020 7946 0958",
    "+442079460958",
    "2079460958",
    "02079460958",
    "Ysolde",
    "Brannagh",
    "yb-204",
    "17 Quillfeather Lane",
    "Quillfeather",
    "Flat Nine",
    "Dunmorrow",
    "Wexbury",
    "DM4 7QX",
    *PROOF.values(),
    NOTE,
]


async def test_no_personal_value_is_stored_in_clear_and_the_api_still_shows_them(
    service, make_order, order_event, auth, eventually, scan
) -> None:
    person = {"first_name": "Ysolde", "last_name": "Brannagh", "accepts_marketing": True}
    first = make_order(
        **person, email=EMAIL, phone="+44 20 7946 0958", customer_ref="yb-204", store_id="store-a"
    )
    second = make_order(
        **person,
        email=EMAIL.upper(),
        phone="020 7946 0958",
        store_id="store-b",
        store_country="GB",
        placed_at=first.placed_at + timedelta(days=2),
    )
    work = make_order(**person, email=OTHER_EMAIL, placed_at=first.placed_at + timedelta(days=3))
    orders = [
        order.model_copy(update={"shipping_address": ADDRESS, "billing_address": ADDRESS})
        for order in (first, second, work)
    ]
    for order in orders:
        await service.publish(order_event(order), key=order.order_id)

    async def all_attributed() -> bool:
        return len(service.customers.of_type("crm.customer.order_attributed")) == 3

    await eventually(all_attributed)
    found = await service.client.get(
        "/v1/customers", params={"email": EMAIL.upper()}, headers=auth("agent")
    )
    by_phone = await service.client.get(
        "/v1/customers", params={"phone": "020 7946 0958", "region": "GB"}, headers=auth("agent")
    )
    by_ref = await service.client.get(
        "/v1/customers",
        params={"store_id": "store-a", "external_id": "yb-204"},
        headers=auth("agent"),
    )
    (customer,) = found.json()["items"]
    customer_id = customer["customer_id"]
    assert [c["customer_id"] for c in by_phone.json()["items"]] == [customer_id]
    assert [c["customer_id"] for c in by_ref.json()["items"]] == [customer_id]
    assert customer["stats"]["orders_count"] == 2
    (work_customer,) = (
        await service.client.get(
            "/v1/customers", params={"email": OTHER_EMAIL}, headers=auth("agent")
        )
    ).json()["items"]
    consent = await service.client.put(
        f"/v1/customers/{customer_id}/consents/sms/marketing",
        json={"status": "granted", "proof": PROOF},
        headers=auth("marketer"),
    )
    assert consent.status_code == 200, consent.text
    merged = await service.client.post(
        f"/v1/customers/{customer_id}:merge",
        json={"merge_with": work_customer["customer_id"], "note": NOTE},
        headers=auth("admin"),
    )
    assert merged.status_code == 201, merged.text

    sessions = service.app.state.runtime.sessions

    async def outbox_drained() -> bool:
        async with sessions() as session:
            return await session.scalar(text("SELECT count(*) FROM outbox_events")) == 0

    # Events carry the person's data to Kafka; their outbox rows go once the broker has them.
    await eventually(outbox_drained)
    async with sessions() as session:
        in_clear = await scan(session, PERSONAL_VALUES, decrypt=False)
        decrypted = await scan(session, PERSONAL_VALUES)
    assert in_clear == []
    # The same scan, opening the ciphertexts, finds the person where they are kept: the empty
    # scan above is not blindness. (The scan ignores case; phones are kept in E.164 only.)
    kept = {hit.split(": ", 1)[1] for hit in decrypted}
    assert kept >= {
        EMAIL,
        EMAIL.lower(),
        OTHER_EMAIL,
        "+442079460958",
        "Ysolde",
        "Brannagh",
        "yb-204",
        *PROOF.values(),
        NOTE,
    }
    assert {hit.split(" ", 1)[0] for hit in decrypted} >= {
        "customers.email",
        "customer_orders.phone",
        "customer_identities.normalised_value",
        "customer_consents.proof",
        "merge_log.snapshot",
        "merge_log.note",
    }

    profile = (
        await service.client.get(f"/v1/customers/{customer_id}", headers=auth("agent"))
    ).json()
    assert (profile["email"], profile["phone"]) in {
        (EMAIL.lower(), "+442079460958"),
        (OTHER_EMAIL, "+442079460958"),
    }
    assert (profile["first_name"], profile["last_name"]) == ("Ysolde", "Brannagh")
    assert {(i["kind"], i["value"], i["store_id"]) for i in profile["identities"]} == {
        ("email", EMAIL.lower(), None),
        ("email", OTHER_EMAIL, None),
        ("phone", "+442079460958", None),
        ("store_ref", "yb-204", "store-a"),
    }
    held = (
        await service.client.get(f"/v1/customers/{customer_id}/consents", headers=auth("agent"))
    ).json()
    assert PROOF in [entry["proof"] for entry in held["log"]]
    log = (
        await service.client.get(
            "/v1/merges", params={"customer_id": customer_id}, headers=auth("agent")
        )
    ).json()["items"]
    assert [(entry["note"], entry["identities"][0]["value"]) for entry in log] == [
        (NOTE, OTHER_EMAIL)
    ]
    exported = (
        await service.client.get(f"/v1/customers/{customer_id}:export", headers=auth("admin"))
    ).json()
    assert {o["email"] for o in exported["orders"]} == {EMAIL.lower(), OTHER_EMAIL}
    assert exported["other"]["merge_log"][0]["note"] == NOTE
    assert exported["other"]["merge_log"][0]["snapshot"]["merged"]["email"] == OTHER_EMAIL


async def test_events_waiting_in_the_outbox_are_sealed_and_kafka_gets_them_unchanged(
    service, make_order, order_event, auth, eventually, scan
) -> None:
    runtime = service.app.state.runtime
    # As if Kafka were down: the events wait in the outbox.
    await runtime.relay.stop()
    try:
        order = make_order(
            first_name="Ysolde",
            last_name="Brannagh",
            email=EMAIL,
            phone="+44 20 7946 0958",
            customer_ref="yb-204",
        ).model_copy(update={"shipping_address": ADDRESS, "billing_address": ADDRESS})
        await service.publish(order_event(order), key=order.order_id)

        async def attributed() -> bool:
            found = await service.client.get(
                "/v1/customers", params={"email": EMAIL}, headers=auth("agent")
            )
            return bool(found.json()["items"])

        await eventually(attributed)
        async with runtime.sessions() as session:
            in_clear = await scan(session, PERSONAL_VALUES, decrypt=False)
            decrypted = await scan(session, PERSONAL_VALUES)
            stored = list(
                (await session.execute(select(OutboxEvent.payload).order_by(OutboxEvent.seq)))  # type: ignore[arg-type]
                .scalars()
                .all()
            )
        assert stored
        assert in_clear == []
        # Opened, the waiting events hold the person: the empty scan above is not blindness.
        assert {hit for hit in decrypted if hit.startswith("outbox_events.payload")} >= {
            f"outbox_events.payload (decrypted): {value}"
            for value in (EMAIL, "+442079460958", "Ysolde", "Brannagh", "yb-204")
        }
        opened = [pii.OutboxSealer(pii.keyring()).open(blob) for blob in stored]

        # A row staged in clear by the release before sealing is relayed too.
        legacy = CloudEvent[dict[str, Any]](
            source="customer-profile", type="test.legacy", subject="legacy", data={}
        )
        async with db.transaction(db.session_factory(runtime.engine)) as session:
            add_event(session, topic=service.settings.customers_topic, key="legacy", event=legacy)
        assert service.customers.records == []
    finally:
        runtime.relay.start()

    async def relayed() -> bool:
        return len(service.customers.records) >= len(opened) + 1

    await eventually(relayed)
    sent = [record.value for record in service.customers.records]
    assert sorted(sent) == sorted([*opened, to_json_bytes(legacy)])
    assert service.customers.of_type("crm.customer.created")[0]["data"]["email"] == EMAIL.lower()


async def test_shop_account_addresses_are_stored_encrypted(sessions, scan) -> None:
    account = ShopCustomerUpserted.model_validate(
        {
            "store_id": "store-a",
            "customer": {"external_id": "yb-204", "email": EMAIL},
            "addresses": [ADDRESS.model_dump(), {"line1": "2 Orrin Wharf", "city": "Dunmorrow"}],
            "updated_at": datetime(2026, 11, 2, tzinfo=UTC),
        }
    )
    async with db.transaction(sessions) as session:
        await accounts.apply_account(
            session=session,
            event=CloudEvent[dict[str, Any]](
                source="shop/store-a", type=SHOP_CUSTOMER_UPSERTED.type, data={}
            ),
            account=account,
            now=datetime.now(UTC),
            customers_topic="crm.customers.v1",
        )
    values = ["17 Quillfeather Lane", "Flat Nine", "Dunmorrow", "Wexbury", "DM4 7QX", "Orrin"]
    async with sessions() as session:
        in_clear = await scan(session, values, decrypt=False)
        decrypted = await scan(session, values)
        (found,) = await customers.find_customers(session=session, email=EMAIL)
        places = await addresses.addresses_of(
            session=session, customer_id=found.customer.customer_id
        )
    assert in_clear == []
    # Opened, the account's addresses hold them: the empty scan above is not blindness.
    assert {hit for hit in decrypted if hit.startswith("account_addresses.address")} == {
        f"account_addresses.address (decrypted): {value}" for value in values
    }
    assert [(p.kinds, p.line1, p.postal_code) for p in places] == [
        (["account"], "17 Quillfeather Lane", "DM4 7QX"),
        (["account"], "2 Orrin Wharf", None),
    ]
