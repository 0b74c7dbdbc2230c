"""The customer mirror end to end: real Kafka, the real MongoDB-wire server, the app started with
its lifespan."""

from datetime import UTC, datetime, timedelta

import pytest
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_UPDATED,
)
from support_ticket.customers.models import Customer

pytestmark = pytest.mark.integration

READER = "agent"


async def customer(client, auth, customer_id):
    return await client.get(f"/v1/customers/{customer_id}", headers=auth(READER))


async def test_created_customer_becomes_readable(
    client, auth, publish, eventually, new_customer, customer_event
):
    data = new_customer()
    await publish(customer_event(**data))

    async def readable() -> bool:
        return (await customer(client, auth, data["customer_id"])).status_code == 200

    await eventually(readable)
    body = (await customer(client, auth, data["customer_id"])).json()
    assert body["customer_id"] == data["customer_id"]
    assert body["email"] == data["email"]
    assert body["phone"] == data["phone"]
    assert (body["first_name"], body["last_name"]) == (data["first_name"], data["last_name"])
    assert body["erased"] is False
    assert body["merged_into"] is None
    assert datetime.fromisoformat(body["updated_at"]) == data["updated_at"]


@pytest.mark.parametrize("role", ["analyst", "viewer"])
async def test_a_role_without_the_personal_data_right_reads_the_customer_masked(
    client, auth, publish, eventually, new_customer, customer_event, role
):
    data = new_customer(email="ann.lee@example.com", phone="+14155550158")
    await publish(customer_event(**data))

    async def readable() -> bool:
        return (await customer(client, auth, data["customer_id"])).status_code == 200

    await eventually(readable)
    masked = (await client.get(f"/v1/customers/{data['customer_id']}", headers=auth(role))).json()
    assert (masked["email"], masked["phone"]) == ("a***@example.com", "+14*******58")
    assert masked["first_name"] == "A***"
    seen = (await customer(client, auth, data["customer_id"])).json()  # an agent
    assert (seen["email"], seen["phone"]) == ("ann.lee@example.com", "+14155550158")


async def test_unknown_customer_is_a_404_problem(client, auth):
    response = await customer(client, auth, "nobody-at-all")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_indexes_exist_once_started(client, database):
    keys = [info["key"] for info in (await database["customers"].index_information()).values()]
    assert [("merged_into", 1)] in keys
    assert [("email", 1)] in keys


async def test_an_older_version_does_not_overwrite_a_newer_one(
    client, auth, publish, processed, new_customer, customer_event
):
    data = new_customer()
    newer = customer_event(CUSTOMER_UPDATED, **{**data, "email": "newer@example.com", "version": 2})
    older = customer_event(**data)
    await publish(newer)
    await publish(older)
    await processed(newer, older)

    body = (await customer(client, auth, data["customer_id"])).json()
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

    body = (await customer(client, auth, merged["customer_id"])).json()
    assert body["customer_id"] == survivor["customer_id"]
    assert body["email"] == survivor["email"]


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

    body = (await customer(client, auth, data["customer_id"])).json()
    assert body["erased"] is True
    assert body["email"] is body["phone"] is body["first_name"] is body["last_name"] is None
    assert await _documents_holding(database, data) == 0


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

    assert await _documents_holding(database, merged) == 0
    body = (await customer(client, auth, merged["customer_id"])).json()
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
    before = await database["customers"].find_one({"_id": data["customer_id"]})

    # The same events again (same ids, as Kafka redelivers them), then a marker on the same
    # partition: once the marker is applied, the redeliveries before it have been handled.
    marker = customer_event(CUSTOMER_UPDATED, **{**data, "first_name": "Changed", "version": 2})
    for event in (created, updated, marker):
        await publish(event)
    await processed(marker)

    assert await database["customers"].find_one({"_id": data["customer_id"]}) == before
    records = await database["processed_events"].count_documents(
        {"event_id": {"$in": [created.id, updated.id]}}
    )
    assert records == 2


async def test_reading_needs_a_token(client):
    response = await client.get("/v1/customers/anyone")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_reading_needs_a_reader_role(client, auth):
    response = await client.get("/v1/customers/anyone", headers=auth())
    assert response.status_code == 403


# Marketers have no need of the support desk's customers (access.py).
@pytest.mark.parametrize("role", ["agent", "analyst", "viewer", "admin"])
async def test_every_reader_role_may_read(client, auth, role):
    response = await client.get("/v1/customers/nobody-at-all", headers=auth(role))
    assert response.status_code == 404


async def test_ready_when_store_and_broker_answer(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"kafka": "ok", "mongodb": "ok"}


async def test_metrics_count_consumed_events(
    client, settings, publish, processed, new_customer, customer_event
):
    created = customer_event(**new_customer())
    await publish(created)
    await processed(created)

    metrics = (await client.get("/metrics")).text
    applied = f'crm_consumer_events_total{{outcome="applied",topic="{settings.customers_topic}"}}'
    assert applied in metrics


async def _documents_holding(database, data) -> int:
    """Customer documents that still hold one of the customer's personal values."""
    personal = ("email", "phone", "first_name", "last_name")
    return await database["customers"].count_documents(
        {"$or": [{field: data[field]} for field in personal]}
    )


async def test_an_unmerge_gives_back_the_customers_as_before_the_merge_and_once_only(
    client, auth, publish, processed, database, new_customer, customer_event
):
    # `earlier` was merged into `merged` before `merged` went into `survivor`: undoing the
    # second merge leaves the first in effect, as customer-profile's undo does.
    survivor, merged, earlier = new_customer(), new_customer(), new_customer()
    ids = [survivor["customer_id"], merged["customer_id"], earlier["customer_id"]]
    now = datetime.now(UTC).replace(microsecond=0)
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
    before = await _documents(database, ids)

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
        body = (await customer(client, auth, data["customer_id"])).json()
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

    after = await _documents(database, ids)
    # Everything as before the merge, but the time the merged customer last changed.
    assert after[merged["customer_id"]].pop("updated_at") == unmerged_at
    before[merged["customer_id"]].pop("updated_at")
    assert after == before
    for data in (merged, earlier):
        body = (await customer(client, auth, data["customer_id"])).json()
        assert (body["customer_id"], body["email"]) == (merged["customer_id"], merged["email"])

    # The merge and its undo delivered again (same ids), then a marker on their partition: once
    # the marker is applied, the redeliveries before it have been handled, and changed nothing.
    marker = customer_event(CUSTOMER_UPDATED, **merged)
    for event in (merge, unmerge, marker):
        await publish(event)
    await processed(marker)
    again = await _documents(database, ids)
    again[merged["customer_id"]].pop("updated_at")
    assert again == before


async def test_erasing_a_survivor_erases_every_customer_merged_into_it_down_the_chain(
    client, auth, publish, processed, database, new_customer, customer_event
):
    survivor, merged, earlier = new_customer(), new_customer(), new_customer()
    now = datetime.now(UTC)
    events = [
        *(customer_event(**data) for data in (survivor, merged, earlier)),
        customer_event(
            CUSTOMER_MERGED,
            merge_id="m-1",
            survivor_id=merged["customer_id"],
            merged_id=earlier["customer_id"],
            merged_at=now,
        ),
        customer_event(
            CUSTOMER_MERGED,
            merge_id="m-2",
            survivor_id=survivor["customer_id"],
            merged_id=merged["customer_id"],
            merged_at=now,
        ),
    ]
    for event in events:
        await publish(event)
    await processed(*events)
    erased = customer_event(CUSTOMER_ERASED, customer_id=survivor["customer_id"], erased_at=now)
    await publish(erased)
    await processed(erased)

    stored = await _documents(
        database, [survivor["customer_id"], merged["customer_id"], earlier["customer_id"]]
    )
    for document in stored.values():
        assert document["erased"] is True
        assert [document[field] for field in ("email", "phone", "first_name", "last_name")] == [
            None
        ] * 4


async def _documents(database, customer_ids) -> dict[str, dict]:
    """The stored customers as the service reads them (a null field and a missing one alike)."""
    documents = database["customers"].find({"_id": {"$in": customer_ids}})
    return {
        document["_id"]: Customer.model_validate(document).model_dump()
        async for document in documents
    }
