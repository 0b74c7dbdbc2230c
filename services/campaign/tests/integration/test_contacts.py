"""The contact list end to end: real Kafka, real PostgreSQL, the app started with its lifespan."""

from datetime import UTC, datetime, timedelta

import pytest
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
)

pytestmark = pytest.mark.integration

READER = "marketer"


async def contact(client, auth, customer_id):
    response = await client.get(f"/v1/contacts/{customer_id}", headers=auth(READER))
    return response


async def test_created_customer_becomes_a_readable_contact(
    client, auth, publish, eventually, new_customer, customer_event
):
    data = new_customer()
    await publish(customer_event(**data))

    async def readable() -> bool:
        return (await contact(client, auth, data["customer_id"])).status_code == 200

    await eventually(readable)
    body = (await contact(client, auth, data["customer_id"])).json()
    assert body["customer_id"] == data["customer_id"]
    assert body["email"] == data["email"]
    assert body["phone"] == data["phone"]
    assert body["first_name"] == data["first_name"]
    assert body["accepts_marketing"] is True
    assert body["erased"] is False
    assert body["merged_into"] is None


@pytest.mark.parametrize("role", ["analyst", "viewer"])
async def test_a_role_without_the_personal_data_right_reads_the_contact_masked(
    client, auth, publish, eventually, new_customer, customer_event, role
):
    data = new_customer(email="ann.lee@example.com", phone="+14155550158")
    await publish(customer_event(**data))

    async def readable() -> bool:
        return (await contact(client, auth, data["customer_id"])).status_code == 200

    await eventually(readable)
    masked = (await client.get(f"/v1/contacts/{data['customer_id']}", headers=auth(role))).json()
    assert (masked["email"], masked["phone"]) == ("a***@example.com", "+14*******58")
    assert (masked["first_name"], masked["last_name"]) == ("A***", "L***")
    assert masked["customer_id"] == data["customer_id"]
    assert masked["accepts_marketing"] is True
    seen = (await contact(client, auth, data["customer_id"])).json()  # a marketer
    assert (seen["email"], seen["phone"]) == ("ann.lee@example.com", "+14155550158")


async def test_unknown_contact_is_a_404_problem(client, auth):
    response = await contact(client, auth, "nobody-at-all")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_older_version_does_not_overwrite_a_newer_one(
    client, auth, publish, processed, new_customer, customer_event
):
    data = new_customer()
    newer = customer_event(CUSTOMER_UPDATED, **{**data, "email": "newer@example.com", "version": 2})
    older = customer_event(**data)
    await publish(newer)
    await publish(older)
    await processed(newer, older)

    body = (await contact(client, auth, data["customer_id"])).json()
    assert body["email"] == "newer@example.com"


async def test_merge_follows_to_the_survivor(
    client, auth, publish, processed, new_customer, customer_event
):
    survivor, merged = new_customer(), new_customer()
    merge = customer_event(
        CUSTOMER_MERGED,
        merge_id=f"merge-{merged['customer_id']}",
        survivor_id=survivor["customer_id"],
        merged_id=merged["customer_id"],
        merged_at=datetime.now(UTC),
    )
    events = [customer_event(**survivor), customer_event(**merged), merge]
    for event in events:
        await publish(event)
    await processed(*events)

    body = (await contact(client, auth, merged["customer_id"])).json()
    assert body["customer_id"] == survivor["customer_id"]
    assert body["email"] == survivor["email"]


async def test_an_unmerge_gives_back_the_contacts_as_before_the_merge_and_once_only(
    client, auth, publish, processed, database, new_customer, customer_event
):
    # `earlier` was merged into `merged` before `merged` went into `survivor`: undoing the
    # second merge leaves the first in effect, as customer-profile's undo does.
    survivor, merged, earlier = new_customer(), new_customer(), new_customer()
    ids = [survivor["customer_id"], merged["customer_id"], earlier["customer_id"]]
    now = datetime.now(UTC)
    first_merge = customer_event(
        CUSTOMER_MERGED,
        merge_id=f"merge-{earlier['customer_id']}",
        survivor_id=merged["customer_id"],
        merged_id=earlier["customer_id"],
        merged_at=now,
    )
    setup = [customer_event(**data) for data in (survivor, merged, earlier)] + [first_merge]
    for event in setup:
        await publish(event)
    await processed(*setup)
    before = await _contacts(database, ids)

    merge = customer_event(
        CUSTOMER_MERGED,
        merge_id=f"merge-{merged['customer_id']}",
        survivor_id=survivor["customer_id"],
        merged_id=merged["customer_id"],
        merged_at=now + timedelta(seconds=1),
    )
    await publish(merge)
    await processed(merge)
    for data in (merged, earlier):
        body = (await contact(client, auth, data["customer_id"])).json()
        assert body["customer_id"] == survivor["customer_id"]

    unmerged_at = now + timedelta(seconds=2)
    unmerge = customer_event(
        CUSTOMER_UNMERGED,
        merge_id=f"merge-{merged['customer_id']}",
        survivor_id=survivor["customer_id"],
        merged_id=merged["customer_id"],
        unmerged_at=unmerged_at,
        identities=[{"kind": "email", "value": merged["email"]}],
    )
    await publish(unmerge)
    await processed(unmerge)

    after = await _contacts(database, ids)
    # Everything as before the merge, but the time the merged contact last changed.
    assert after[merged["customer_id"]].pop("updated_at") == unmerged_at
    before[merged["customer_id"]].pop("updated_at")
    assert after == before
    for data in (merged, earlier):
        body = (await contact(client, auth, data["customer_id"])).json()
        assert (body["customer_id"], body["email"]) == (merged["customer_id"], merged["email"])

    # The merge and its undo delivered again (same ids), then a marker on their partition: once
    # the marker is applied, the redeliveries before it have been handled, and changed nothing.
    marker = customer_event(CUSTOMER_UPDATED, **merged)
    for event in (merge, unmerge, marker):
        await publish(event)
    await processed(marker)
    again = await _contacts(database, ids)
    again[merged["customer_id"]].pop("updated_at")
    assert again == before


async def test_erasure_leaves_no_personal_data_and_cannot_be_undone(
    client, auth, publish, processed, database, new_customer, customer_event
):
    data = new_customer()
    erased_at = datetime.now(UTC)
    created = customer_event(**data)
    erased = customer_event(CUSTOMER_ERASED, customer_id=data["customer_id"], erased_at=erased_at)
    # customer-profile would not send this, but a late or replayed update must not revive data.
    late = customer_event(
        CUSTOMER_UPDATED, **{**data, "version": 2, "updated_at": erased_at + timedelta(1)}
    )
    for event in (created, erased, late):
        await publish(event)
    await processed(created, erased, late)

    body = (await contact(client, auth, data["customer_id"])).json()
    assert body["erased"] is True
    assert body["email"] is body["phone"] is body["first_name"] is body["last_name"] is None
    assert await _rows_holding(database, data) == 0


async def test_merging_into_an_erased_customer_erases_the_merged_one_too(
    client, auth, publish, processed, database, new_customer, customer_event
):
    # The survivor's erasure and the merge travel on different partitions, in either order.
    survivor, merged = new_customer(), new_customer()
    now = datetime.now(UTC)
    first = [
        customer_event(**survivor),
        customer_event(**merged),
        customer_event(CUSTOMER_ERASED, customer_id=survivor["customer_id"], erased_at=now),
    ]
    for event in first:
        await publish(event)
    await processed(*first)
    merge = customer_event(
        CUSTOMER_MERGED,
        merge_id=f"merge-{merged['customer_id']}",
        survivor_id=survivor["customer_id"],
        merged_id=merged["customer_id"],
        merged_at=now,
    )
    await publish(merge)
    await processed(merge)

    assert await _rows_holding(database, merged) == 0
    body = (await contact(client, auth, merged["customer_id"])).json()
    assert body["customer_id"] == survivor["customer_id"]
    assert body["erased"] is True


async def test_a_redelivered_event_changes_nothing(
    client, auth, publish, processed, database, new_customer, customer_event
):
    data = new_customer()
    created = customer_event(**data)
    updated = customer_event(CUSTOMER_UPDATED, **{**data, "first_name": "Changed", "version": 2})
    for event in (created, updated):
        await publish(event)
    await processed(created, updated)
    before = await database.fetchrow(
        "SELECT * FROM contacts WHERE customer_id = $1", data["customer_id"]
    )

    # The same events again (same ids, as Kafka redelivers them), then a marker on the same
    # partition: once the marker is applied, the redeliveries before it have been handled.
    marker = customer_event(CUSTOMER_UPDATED, **{**data, "first_name": "Changed", "version": 2})
    for event in (created, updated, marker):
        await publish(event)
    await processed(marker)

    after = await database.fetchrow(
        "SELECT * FROM contacts WHERE customer_id = $1", data["customer_id"]
    )
    assert after == before
    claims = await database.fetchval(
        "SELECT count(*) FROM processed_events "
        "WHERE consumer = 'campaign.contacts' AND event_id = ANY($1::text[])",
        [created.id, updated.id],
    )
    assert claims == 2


async def test_reading_needs_a_token(client):
    response = await client.get("/v1/contacts/anyone")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_reading_needs_a_reader_role(client, auth):
    response = await client.get("/v1/contacts/anyone", headers=auth())
    assert response.status_code == 403


# Support agents have no need of campaign contacts (access.py).
@pytest.mark.parametrize("role", ["marketer", "analyst", "viewer", "admin"])
async def test_every_reader_role_may_read(client, auth, role):
    response = await client.get("/v1/contacts/nobody-at-all", headers=auth(role))
    assert response.status_code == 404


async def test_ready_when_store_and_broker_answer(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"kafka": "ok", "postgres": "ok"}


async def test_metrics_count_consumed_events(
    client, publish, processed, new_customer, customer_event
):
    created = customer_event(**new_customer())
    await publish(created)
    await processed(created)

    metrics = (await client.get("/metrics")).text
    assert 'crm_consumer_events_total{outcome="applied",topic="crm.customers.v1"}' in metrics


async def test_metrics_expose_consumer_lag_and_outbox_age(
    client, publish, processed, eventually, new_customer, customer_event
):
    created = customer_event(**new_customer())
    await publish(created)
    await processed(created)

    async def measured() -> bool:
        metrics = (await client.get("/metrics")).text
        lag = 'crm_consumer_lag_messages{group="campaign-tests.contacts",partition="'
        return lag in metrics and "crm_outbox_oldest_event_age_seconds 0.0" in metrics

    await eventually(measured)


async def _contacts(database, customer_ids) -> dict[str, dict]:
    rows = await database.fetch(
        "SELECT * FROM contacts WHERE customer_id = ANY($1::text[])", customer_ids
    )
    return {row["customer_id"]: dict(row) for row in rows}


async def _rows_holding(database, data) -> int:
    """Rows of any table column that still hold one of the customer's personal values."""
    return await database.fetchval(
        "SELECT count(*) FROM contacts WHERE email = $1 OR phone = $2 OR first_name = $3"
        " OR last_name = $4",
        data["email"],
        data["phone"],
        data["first_name"],
        data["last_name"],
    )
