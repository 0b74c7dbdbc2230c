"""SLA policies wired to tickets on the real MongoDB-wire server and Kafka: the configuration
API, targets computed on every change, and warnings and breaches published by the scheduler
once, on time, across a restart, and after a change of policy."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from support_ticket.main import create_app

pytestmark = pytest.mark.integration

ALWAYS = {"always_open": True}
OFFICE = {
    "time_zone": "Europe/Berlin",
    "opening_hours": [{"weekday": "monday", "start": "09:00", "end": "17:00"}],
}


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sla_events(records, ticket_id):
    """(type, data, published at) of the ticket's SLA events, in the order read."""
    found = []
    for record in records:
        event = json.loads(record.value)
        if record.key == ticket_id.encode() and event["type"].startswith("crm.ticket.sla_"):
            published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            found.append((event["type"], event["data"], published))
    return found


async def configure(client, auth, **targets):
    calendar = await client.put("/v1/sla/calendars/always", json=ALWAYS, headers=auth("admin"))
    assert calendar.status_code == 200, calendar.text
    policies = {"default": {"name": "standard", "calendar_id": "always", "targets": targets}}
    stored = await client.put("/v1/sla/policies", json=policies, headers=auth("admin"))
    assert stored.status_code == 200, stored.text
    return stored.json()


async def open_ticket(client, auth, **fields):
    opened = await client.post(
        "/v1/tickets",
        json={"subject": "Parcel", "requester": {"email": "ann@example.com"}, **fields},
        headers=auth("agent"),
    )
    assert opened.status_code == 201, opened.text
    return opened.json()


async def test_calendars_and_policies_are_stored_checked_and_read(client, auth):
    stored = await client.put("/v1/sla/calendars/office", json=OFFICE, headers=auth("admin"))
    assert stored.status_code == 200
    read = await client.get("/v1/sla/calendars/office", headers=auth("agent"))
    assert read.json()["opening_hours"] == [
        {"weekday": "monday", "start": "09:00:00", "end": "17:00:00"}
    ]
    assert (await client.get("/v1/sla/calendars/none", headers=auth("agent"))).status_code == 404

    overlapping = {**OFFICE, "opening_hours": OFFICE["opening_hours"] * 2}
    refused = await client.put("/v1/sla/calendars/x", json=overlapping, headers=auth("admin"))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["opening_hours"]

    urgent = {"name": "urgent", "conditions": {"priority": ["urgent"]}, "calendar_id": "nowhere"}
    policies = {"policies": [{**urgent, "targets": {"first_response_seconds": 600}}]}
    unknown = await client.put("/v1/sla/policies", json=policies, headers=auth("admin"))
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "policies.0.calendar_id"

    # Eight hours a week: ten years of them is out of reach.
    far = {**urgent, "calendar_id": "office", "targets": {"resolution_seconds": 10**8}}
    too_far = await client.put("/v1/sla/policies", json={"policies": [far]}, headers=auth("admin"))
    assert too_far.status_code == 422
    assert too_far.json()["errors"][0]["field"] == "policies.0.targets.resolution_seconds"

    empty = await client.get("/v1/sla/policies", headers=auth("agent"))
    assert empty.json()["policies"] == []
    policies["policies"][0]["calendar_id"] = "office"
    saved = await client.put("/v1/sla/policies", json=policies, headers=auth("admin"))
    assert saved.status_code == 200
    assert saved.json()["revision"] > empty.json()["revision"]
    listed = await client.get("/v1/sla/policies", headers=auth("agent"))
    assert [p["name"] for p in listed.json()["policies"]] == ["urgent"]


async def test_the_policy_is_chosen_by_the_ticket_and_follows_its_changes(client, auth):
    await client.put("/v1/sla/calendars/always", json=ALWAYS, headers=auth("admin"))
    policies = {
        "policies": [
            {
                "name": "vip",
                "conditions": {"tags": ["vip"]},
                "calendar_id": "always",
                "targets": {"first_response_seconds": 600},
            }
        ],
        "default": {
            "name": "standard",
            "calendar_id": "always",
            "targets": {"first_response_seconds": 3600, "resolution_seconds": 7200},
        },
    }
    assert (await client.put("/v1/sla/policies", json=policies, headers=auth("admin"))).is_success
    ticket = await open_ticket(client, auth)
    created = instant(ticket["created_at"])
    assert ticket["sla"]["policy_id"] == "standard"
    assert instant(ticket["sla"]["first_response_due_at"]) == created + timedelta(hours=1)

    path = f"/v1/tickets/{ticket['ticket_id']}"
    tagged = (await client.patch(path, json={"tags": ["vip"]}, headers=auth("agent"))).json()
    assert tagged["sla"]["policy_id"] == "vip"
    assert instant(tagged["sla"]["first_response_due_at"]) == created + timedelta(minutes=10)

    await client.post(f"{path}/messages", json={"body": "On its way"}, headers=auth("agent"))
    answered = (await client.get(path, headers=auth("agent"))).json()
    assert answered["sla"]["first_response_due_at"] is None
    assert answered["first_response_seconds"] is not None

    customer = {"body": "Still nothing", "author": "customer"}
    await client.post(f"{path}/messages", json=customer, headers=auth("agent"))
    waiting = (await client.get(path, headers=auth("agent"))).json()
    assert waiting["customer_waiting_since"] is not None


async def test_a_breach_is_published_once_within_seconds_of_due(client, auth, settings, read_topic):
    await configure(client, auth, first_response_seconds=4, warning_lead_seconds=2)
    ticket = await open_ticket(client, auth)
    due = instant(ticket["sla"]["first_response_due_at"])

    def breached(records):
        events = sla_events(records, ticket["ticket_id"])
        return any(kind.endswith("breached") for kind, *_ in events)

    records = await read_topic(settings.tickets_topic, breached, timeout=30)
    events = sla_events(records, ticket["ticket_id"])
    assert [(kind, data["target"]) for kind, data, _ in events] == [
        ("crm.ticket.sla_warning", "first_response"),
        ("crm.ticket.sla_breached", "first_response"),
    ]
    _, warning, warned_at = events[0]
    _, breach, breached_at = events[1]
    assert instant(warning["due_at"]) == instant(breach["due_at"]) == due
    assert due - timedelta(seconds=2) <= warned_at <= due + timedelta(seconds=3)
    assert due <= breached_at <= due + timedelta(seconds=5)
    assert breach["sla"]["breached"] == ["first_response"]

    # Later rounds of the scheduler announce nothing again.
    path = f"/v1/tickets/{ticket['ticket_id']}"
    await client.patch(path, json={"priority": "high"}, headers=auth("agent"))
    again = await read_topic(
        settings.tickets_topic,
        lambda records: any(json.loads(r.value)["data"].get("priority") == "high" for r in records),
    )
    assert len(sla_events(again, ticket["ticket_id"])) == 2
    history = (await client.get(f"{path}/history", headers=auth("agent"))).json()["entries"]
    assert [e["action"] for e in history if e["actor"] == "system:sla"] == [
        "sla_warning:first_response",
        "sla_breached:first_response",
    ]


async def test_a_breach_due_after_a_restart_is_published_by_the_new_process(
    settings, auth, read_topic
):
    async def started():
        app = create_app(settings)
        manager = LifespanManager(app, startup_timeout=60, shutdown_timeout=30)
        await manager.__aenter__()
        transport = httpx.ASGITransport(manager.app)
        return manager, httpx.AsyncClient(transport=transport, base_url="http://support-ticket")

    manager, client = await started()
    await configure(client, auth, first_response_seconds=15)
    ticket = await open_ticket(client, auth)
    due = instant(ticket["sla"]["first_response_due_at"])
    await client.aclose()
    await manager.__aexit__(None, None, None)

    manager, client = await started()
    try:
        assert datetime.now(UTC) < due, "restarted too slowly to test a breach due after it"

        def breached(records):
            return bool(sla_events(records, ticket["ticket_id"]))

        records = await read_topic(settings.tickets_topic, breached, timeout=40)
        [(kind, _, published)] = sla_events(records, ticket["ticket_id"])
        assert kind == "crm.ticket.sla_breached"
        assert due <= published <= due + timedelta(seconds=5)
    finally:
        await client.aclose()
        await manager.__aexit__(None, None, None)


async def test_a_new_policy_recomputes_the_open_tickets(client, auth, settings, read_topic):
    await configure(client, auth, first_response_seconds=3600)
    ticket = await open_ticket(client, auth)
    solved = await open_ticket(client, auth)
    solved_path = f"/v1/tickets/{solved['ticket_id']}"
    done = await client.patch(solved_path, json={"status": "solved"}, headers=auth("agent"))

    await configure(client, auth, first_response_seconds=5)

    def breached(records):
        return bool(sla_events(records, ticket["ticket_id"]))

    records = await read_topic(settings.tickets_topic, breached, timeout=30)
    mine = [json.loads(r.value) for r in records if r.key == ticket["ticket_id"].encode()]
    assert [event["type"] for event in mine] == [
        "crm.ticket.created",
        "crm.ticket.updated",
        "crm.ticket.sla_breached",
    ]
    due = instant(ticket["created_at"]) + timedelta(seconds=5)
    assert instant(mine[1]["data"]["sla"]["first_response_due_at"]) == due
    assert instant(mine[2]["data"]["due_at"]) == due
    unchanged = (await client.get(solved_path, headers=auth("agent"))).json()
    assert unchanged["version"] == done.json()["version"]
    assert sla_events(records, solved["ticket_id"]) == []
