"""Consents, access and erasure through the HTTP API of the running service, on real Kafka and
PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from crm_events.registry import CONTRACTS
from sqlalchemy import text

pytestmark = pytest.mark.integration

EMAIL = "Quillon.Verbeek@Example.com"
PERSON = {
    "email": EMAIL,
    "phone": "020 7946 0456",
    "billing_country": "GB",
    "customer_ref": "qv-31",
    "first_name": "Quillon",
    "last_name": "Verbeek",
    "accepts_marketing": True,
}
PROOF = {"ip": "198.51.100.23", "user_agent": "QvAgent/4.2", "form_id": "prefs-qv"}
PERSONAL_VALUES = [
    EMAIL.lower(),
    "020 7946 0456",
    "+442079460456",
    "2079460456",
    "Quillon",
    "Verbeek",
    "qv-31",
    *PROOF.values(),
]


def validated(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for envelope in events:
        CONTRACTS.validate(envelope)
    return events


async def test_a_consent_from_an_order_then_an_api_withdrawal_are_both_published(
    service, make_order, order_event, auth, eventually
) -> None:
    order = make_order(email="ivy@example.com", accepts_marketing=True)
    await service.publish(order_event(order), key=order.order_id)

    async def granted() -> bool:
        return bool(service.customers.of_type("crm.customer.consent_changed"))

    await eventually(granted)
    grant = service.customers.of_type("crm.customer.consent_changed")[0]
    customer_id = grant["subject"]
    assert grant["data"]["status"] == "granted"
    assert grant["data"]["source"] == "order"
    assert grant["data"]["proof"]["order_id"] == order.order_id

    response = await service.client.put(
        f"/v1/customers/{customer_id}/consents/email/marketing",
        json={"status": "withdrawn", "proof": PROOF},
        headers=auth("marketer"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["source"], body["changed"]) == ("withdrawn", "api", True)
    assert body["proof"] == PROOF

    async def withdrawal_announced() -> bool:
        updates = service.customers.of_type("crm.customer.updated")
        return len(service.customers.of_type("crm.customer.consent_changed")) == 2 and any(
            u["data"]["accepts_marketing"] is False for u in updates
        )

    await eventually(withdrawal_announced)
    events = validated(service.customers.events)
    assert {e["subject"] for e in events} == {customer_id}
    withdrawal = service.customers.of_type("crm.customer.consent_changed")[1]["data"]
    assert {k: withdrawal[k] for k in ("channel", "purpose", "status", "source", "proof")} == {
        "channel": "email",
        "purpose": "marketing",
        "status": "withdrawn",
        "source": "api",
        "proof": PROOF,
    }

    same = await service.client.put(
        f"/v1/customers/{customer_id}/consents/email/marketing",
        json={"status": "withdrawn"},
        headers=auth("admin"),
    )
    assert same.json()["changed"] is False
    consents = await service.client.get(
        f"/v1/customers/{customer_id}/consents", headers=auth("viewer")
    )
    assert consents.status_code == 200
    held = consents.json()
    assert [(c["channel"], c["purpose"], c["status"]) for c in held["consents"]] == [
        ("email", "marketing", "withdrawn")
    ]
    assert [(e["status"], e["source"]) for e in held["log"]] == [
        ("granted", "order"),
        ("withdrawn", "api"),
    ]
    profile = await service.client.get(f"/v1/customers/{customer_id}", headers=auth("viewer"))
    assert profile.json()["accepts_marketing"] is False


async def test_access_export_then_erasure_of_a_person(
    service, make_order, order_event, auth, eventually, scan
) -> None:
    first = make_order(**PERSON, total="30.00")
    second = make_order(**PERSON, total="12.50", placed_at=first.placed_at + timedelta(2))
    for order in (first, second):
        await service.publish(order_event(order), key=order.order_id)

    async def both_attributed() -> bool:
        return len(service.customers.of_type("crm.customer.order_attributed")) == 2

    await eventually(both_attributed)
    customer_id = service.customers.events[0]["subject"]
    consent = await service.client.put(
        f"/v1/customers/{customer_id}/consents/sms/marketing",
        json={"status": "granted", "proof": PROOF},
        headers=auth("marketer"),
    )
    assert consent.status_code == 200, consent.text

    export_path = f"/v1/customers/{customer_id}:export"
    assert (await service.client.get(export_path, headers=auth("marketer"))).status_code == 403
    exported = await service.client.get(export_path, headers=auth("admin"))
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert document["customer_id"] == customer_id
    assert document["profile"]["email"] == EMAIL.lower()
    assert sorted(o["order_id"] for o in document["orders"]) == sorted(
        [first.order_id, second.order_id]
    )
    assert {o["net_paid"] for o in document["orders"]} == {"30.00", "12.50"}
    assert {(c["channel"], c["status"], c["source"]) for c in document["consents"]} == {
        ("email", "granted", "order"),
        ("sms", "granted", "api"),
    }
    assert PROOF in [entry["proof"] for entry in document["consent_log"]]
    read = await service.client.get(f"/v1/customers/{customer_id}", headers=auth("agent"))
    assert read.status_code == 200

    sessions = service.app.state.runtime.sessions
    timeline = text("SELECT count(*) FROM timeline_entries WHERE customer_id = :id")
    async with sessions() as session:
        assert await session.scalar(timeline, {"id": customer_id})

    erase_path = f"/v1/customers/{customer_id}:erase"
    assert (await service.client.post(erase_path, headers=auth("marketer"))).status_code == 403
    erased = await service.client.post(erase_path, headers=auth("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["already_erased"] is False
    assert erased.json()["erased_ids"] == [customer_id]

    async def erasure_announced() -> bool:
        return bool(service.customers.of_type("crm.customer.erased"))

    await eventually(erasure_announced)
    (announced,) = service.customers.of_type("crm.customer.erased")
    CONTRACTS.validate(announced)
    assert announced["subject"] == customer_id
    assert announced["data"]["customer_id"] == customer_id

    async def outbox_drained() -> bool:
        async with sessions() as session:
            return await session.scalar(text("SELECT count(*) FROM outbox_events")) == 0

    # Events staged before the erasure still carried the person's data until relayed.
    await eventually(outbox_drained)
    async with sessions() as session:
        assert await scan(session, PERSONAL_VALUES) == []
        assert await session.scalar(timeline, {"id": customer_id}) == 0
        stats = await session.scalar(
            text("SELECT orders_count FROM customers WHERE customer_id = :id"), {"id": customer_id}
        )
        assert stats == 2
        audit = (
            await session.execute(
                text("SELECT actor, action FROM audit_log WHERE customer_id = :id ORDER BY at"),
                {"id": customer_id},
            )
        ).all()
    assert [tuple(row) for row in audit] == [
        ("tester@example.com", "customer.export"),
        ("tester@example.com", "customer.read"),
        ("tester@example.com", "customer.erase"),
    ]

    for gone in (
        await service.client.get(f"/v1/customers/{customer_id}", headers=auth("viewer")),
        await service.client.get(f"/v1/customers/{customer_id}/consents", headers=auth("viewer")),
        await service.client.get(export_path, headers=auth("admin")),
        await service.client.put(
            f"/v1/customers/{customer_id}/consents/email/marketing",
            json={"status": "granted"},
            headers=auth("admin"),
        ),
    ):
        assert gone.status_code == 410, gone.text
        assert gone.headers["content-type"] == "application/problem+json"
    again = await service.client.post(erase_path, headers=auth("admin"))
    assert again.status_code == 200
    assert again.json()["already_erased"] is True
    assert again.json()["erased_at"] == erased.json()["erased_at"]

    later = make_order(**PERSON, total="9.00", placed_at=second.placed_at + timedelta(30))
    await service.publish(order_event(later), key=later.order_id)

    async def someone_new() -> bool:
        return any(
            e["subject"] != customer_id for e in service.customers.of_type("crm.customer.created")
        )

    await eventually(someone_new)
    found = await service.client.get(
        "/v1/customers", params={"email": EMAIL}, headers=auth("viewer")
    )
    (newcomer,) = found.json()["items"]
    assert newcomer["customer_id"] != customer_id
    assert newcomer["stats"]["orders_count"] == 1
    async with sessions() as session:
        lookups = await session.scalar(
            text(
                "SELECT count(*) FROM audit_log "
                "WHERE action = 'customer.lookup' AND customer_id = :id"
            ),
            {"id": newcomer["customer_id"]},
        )
    assert lookups == 1
    validated(service.customers.events)


async def test_the_rights_api_answers_problems(
    service, make_order, order_event, auth, eventually
) -> None:
    order = make_order(email="kit@example.com")
    await service.publish(order_event(order), key=order.order_id)

    async def created() -> bool:
        return bool(service.customers.of_type("crm.customer.created"))

    await eventually(created)
    customer_id = service.customers.events[0]["subject"]
    path = f"/v1/customers/{customer_id}/consents"
    admin = auth("admin")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/email/marketing", {"status": "granted", "source": "order"}, "source"),
        ("/email/marketing", {"status": "maybe"}, "status"),
        ("/fax/marketing", {"status": "granted"}, "path.channel"),
        ("/email/newsletters", {"status": "granted"}, "path.purpose"),
        ("/email/marketing", {"status": "granted", "changed_at": future}, "changed_at"),
        ("/email/marketing", {"status": "granted", "proof": {"ip": 1}}, "proof.ip"),
    ]
    for suffix, body, field in cases:
        response = await service.client.put(path + suffix, json=body, headers=admin)
        assert response.status_code == 422, (suffix, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()

    viewer = await service.client.put(
        path + "/email/marketing", json={"status": "granted"}, headers=auth("viewer")
    )
    assert viewer.status_code == 403
    anonymous = await service.client.put(path + "/email/marketing", json={"status": "granted"})
    assert anonymous.status_code == 401
    for missing in (
        await service.client.put(
            "/v1/customers/nobody/consents/email/marketing",
            json={"status": "granted"},
            headers=admin,
        ),
        await service.client.get("/v1/customers/nobody/consents", headers=admin),
        await service.client.get("/v1/customers/nobody:export", headers=admin),
        await service.client.post("/v1/customers/nobody:erase", headers=admin),
    ):
        assert missing.status_code == 404, missing.text
        assert missing.json()["detail"] == "customer nobody not found"
