"""The ticket API end to end: the app started with its lifespan on the real MongoDB-wire server
and Kafka."""

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from support_ticket.config import Settings
from support_ticket.main import create_app

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app started with `settings` of the test's own."""
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://st") as client,
    ):
        yield client


def new_ticket(**overrides):
    return {
        "subject": "Where is my parcel?",
        "requester": {"email": "ann@example.com", "name": "Ann Lee"},
        "store_id": "demo",
        **overrides,
    }


async def open_ticket(client, auth, **overrides):
    response = await client.post("/v1/tickets", json=new_ticket(**overrides), headers=auth("agent"))
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_ticket_opens_with_the_next_number_of_its_store(client, auth):
    first = await open_ticket(client, auth)
    second = await open_ticket(client, auth)
    other_store = await open_ticket(client, auth, store_id="other")

    assert (first["status"], first["channel"], first["version"]) == ("new", "api", 1)
    assert second["number"] == first["number"] + 1
    assert other_store["number"] == first["number"]
    read = await client.get(f"/v1/tickets/{first['ticket_id']}", headers=auth("agent"))
    assert read.json() == first


async def test_numbers_drawn_at_once_are_all_different(client, auth):
    opened = await asyncio.gather(*(open_ticket(client, auth) for _ in range(12)))
    numbers = sorted(ticket["number"] for ticket in opened)
    assert numbers == list(range(numbers[0], numbers[0] + 12))


async def test_a_ticket_needs_someone_to_answer(client, auth):
    response = await client.post(
        "/v1/tickets", json={"subject": "Hello", "store_id": "demo"}, headers=auth("agent")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "requester"


async def test_each_change_is_versioned_and_kept_in_the_history(client, auth):
    ticket = await open_ticket(client, auth)
    path = f"/v1/tickets/{ticket['ticket_id']}"

    changed = await client.patch(
        path,
        json={"status": "open", "assignee_id": "agent-7", "tags": ["b", "a", "b"], "version": 1},
        headers=auth("agent"),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["tags"]) == (2, ["a", "b"])
    stale = await client.patch(path, json={"priority": "high", "version": 1}, headers=auth("agent"))
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["field"] == "version"
    unchanged = await client.patch(path, json={"status": "open"}, headers=auth("agent"))
    assert unchanged.json()["version"] == 2

    history = (await client.get(f"{path}/history", headers=auth("viewer"))).json()["entries"]
    assert [entry["action"] for entry in history] == ["created", "updated"]
    assert history[1]["actor"] == "tester@example.com"
    assert history[1]["changes"]["status"] == {"old": "new", "new": "open"}
    assert history[1]["changes"]["assignee_id"] == {"old": None, "new": "agent-7"}
    assert history[1]["changes"]["tags"] == {"old": [], "new": ["a", "b"]}


async def test_concurrent_changes_are_all_kept(client, auth):
    ticket = await open_ticket(client, auth)
    path = f"/v1/tickets/{ticket['ticket_id']}"
    await asyncio.gather(
        *(client.patch(path, json={"type": f"type-{i}"}, headers=auth("agent")) for i in range(8))
    )
    history = (await client.get(f"{path}/history", headers=auth("agent"))).json()["entries"]
    assert len(history) == 9
    final = (await client.get(path, headers=auth("agent"))).json()
    assert final["version"] == 9


async def test_a_move_the_statuses_do_not_allow_is_refused(client, auth):
    ticket = await open_ticket(client, auth)
    path = f"/v1/tickets/{ticket['ticket_id']}"
    await client.patch(path, json={"status": "solved"}, headers=auth("agent"))
    await client.patch(path, json={"status": "closed"}, headers=auth("agent"))
    reopened = await client.patch(path, json={"status": "open"}, headers=auth("agent"))
    assert reopened.status_code == 422
    assert reopened.json()["errors"][0]["field"] == "status"


async def test_custom_fields_follow_the_store_definitions(client, auth):
    store = "fields-store"
    defined = await client.put(
        f"/v1/stores/{store}/ticket-fields/reason",
        json={"label": "Reason", "type": "dropdown", "options": ["damaged", "late"]},
        headers=auth("admin"),
    )
    assert defined.status_code == 200, defined.text
    ok = await open_ticket(client, auth, store_id=store, custom_fields={"reason": "late"})
    assert ok["custom_fields"] == {"reason": "late"}
    bad = await client.post(
        "/v1/tickets",
        json=new_ticket(store_id=store, custom_fields={"reason": "lost"}),
        headers=auth("agent"),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "custom_fields.reason"
    patched = await client.patch(
        f"/v1/tickets/{ok['ticket_id']}",
        json={"custom_fields": {"reason": "damaged"}},
        headers=auth("agent"),
    )
    assert patched.json()["custom_fields"] == {"reason": "damaged"}
    listed = await client.get(f"/v1/stores/{store}/ticket-fields", headers=auth("agent"))
    assert [f["key"] for f in listed.json()["fields"]] == ["reason"]


async def test_replies_and_notes_with_attachments(client, auth):
    ticket = await open_ticket(client, auth, message={"body": "It never came."})
    path = f"/v1/tickets/{ticket['ticket_id']}"
    attachment = {
        "filename": "label.png",
        "content_type": "image/png",
        "content_base64": base64.b64encode(PNG).decode(),
    }

    reply = await client.post(
        f"{path}/messages",
        json={"body": "Sorry! Here is the label.", "attachments": [attachment]},
        headers=auth("agent"),
    )
    assert reply.status_code == 201, reply.text
    note = await client.post(
        f"{path}/messages",
        json={"kind": "note", "body": "carrier ticket 77", "status": "on_hold"},
        headers=auth("agent"),
    )
    assert note.status_code == 201

    thread = (await client.get(f"{path}/messages", headers=auth("agent"))).json()["messages"]
    assert [(m["kind"], m["author"]["kind"]) for m in thread] == [
        ("reply", "customer"),
        ("reply", "agent"),
        ("note", "agent"),
    ]
    stored = thread[1]["attachments"][0]
    assert (stored["content_type"], stored["size"]) == ("image/png", len(PNG))
    download = await client.get(
        f"{path}/attachments/{stored['attachment_id']}", headers=auth("agent")
    )
    assert download.content == PNG
    after = (await client.get(path, headers=auth("agent"))).json()
    assert after["status"] == "on_hold"
    assert after["first_responded_at"] is not None


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        ({"content_type": "application/x-msdownload"}, "attachments.0.content_type"),
        ({"content_type": "image/jpeg"}, "attachments.0.content"),
        ({"content_base64": base64.b64encode(PNG * 40).decode()}, "attachments.0.content"),
    ],
    ids=["type-not-taken", "not-what-it-says", "too-large"],
)
async def test_an_attachment_too_large_or_not_what_it_says_is_refused(
    settings, auth, attachment, field
):
    small = settings.model_copy(update={"attachment_max_bytes": len(PNG) * 10})
    async with running(small) as client:
        ticket = await open_ticket(client, auth)
        body = {
            "filename": "f.png",
            "content_type": "image/png",
            "content_base64": base64.b64encode(PNG).decode(),
            **attachment,
        }
        response = await client.post(
            f"/v1/tickets/{ticket['ticket_id']}/messages",
            json={"body": "see attached", "attachments": [body]},
            headers=auth("agent"),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        thread = await client.get(
            f"/v1/tickets/{ticket['ticket_id']}/messages", headers=auth("agent")
        )
        assert thread.json()["messages"] == []


async def test_viewers_read_tickets_masked_and_cannot_write(client, auth):
    ticket = await open_ticket(client, auth, message={"body": "My address is 1 Main St"})
    path = f"/v1/tickets/{ticket['ticket_id']}"
    seen = (await client.get(path, headers=auth("viewer"))).json()
    assert seen["requester"]["email"] == "a***@example.com"
    thread = (await client.get(f"{path}/messages", headers=auth("viewer"))).json()["messages"]
    assert thread[0]["body"] is None
    refused = await client.patch(path, json={"priority": "high"}, headers=auth("viewer"))
    assert refused.status_code == 403


async def test_listing_filters_and_pages(client, auth):
    store = "list-store"
    opened = [
        await open_ticket(
            client, auth, store_id=store, subject=f"Refund request {i}", tags=["refund"]
        )
        for i in range(5)
    ]
    other = await open_ticket(client, auth, store_id=store, subject="Shipping", tags=["ship"])
    await client.patch(
        f"/v1/tickets/{other['ticket_id']}",
        json={"status": "open", "assignee_id": "agent-9"},
        headers=auth("agent"),
    )

    seen, cursor = [], None
    while True:
        params = {"store_id": store, "tag": "refund", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/tickets", params=params, headers=auth("agent"))).json()
        seen += [ticket["ticket_id"] for ticket in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ticket["ticket_id"] for ticket in opened)
    assert len(seen) == len(set(seen))

    async def ids(**params):
        page = await client.get(
            "/v1/tickets", params={"store_id": store, **params}, headers=auth("agent")
        )
        return [ticket["ticket_id"] for ticket in page.json()["tickets"]]

    assert await ids(status="open") == [other["ticket_id"]]
    assert await ids(assignee_id="agent-9") == [other["ticket_id"]]
    assert await ids(q="SHIPP") == [other["ticket_id"]]
    assert len(await ids(q="refund REQUEST")) == 5
    assert await ids(q="(.*") == []
    bad = await client.get(
        "/v1/tickets", params={"cursor": cursor or "bm90LWEtY3Vyc29y"}, headers=auth("agent")
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_saved_views_belong_to_their_agent(client, auth):
    store = "views-store"
    mine = await open_ticket(client, auth, store_id=store, tags=["vip"])
    await open_ticket(client, auth, store_id=store)
    saved = await client.post(
        "/v1/views",
        json={"name": "VIP", "filters": {"store_id": store, "tag": "vip"}},
        headers=auth("agent"),
    )
    assert saved.status_code == 201
    view_id = saved.json()["view_id"]

    page = await client.get("/v1/tickets", params={"view_id": view_id}, headers=auth("agent"))
    assert [t["ticket_id"] for t in page.json()["tickets"]] == [mine["ticket_id"]]
    listed = await client.get("/v1/views", headers=auth("agent"))
    assert [v["name"] for v in listed.json()["views"]] == ["VIP"]
    deleted = await client.delete(f"/v1/views/{view_id}", headers=auth("agent"))
    assert deleted.status_code == 204
    gone = await client.get("/v1/tickets", params={"view_id": view_id}, headers=auth("agent"))
    assert gone.status_code == 404
