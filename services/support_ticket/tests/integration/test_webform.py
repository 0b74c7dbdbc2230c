"""The public web form: no token, a ticket on the web channel, rate-limited per store."""

import httpx
import pytest
from asgi_lifespan import LifespanManager
from support_ticket.main import create_app

pytestmark = pytest.mark.integration

FORM = {
    "email": "Ann@Example.com",
    "name": "Ann",
    "subject": "Damaged box",
    "body": "The box arrived crushed.",
}


async def test_a_form_opens_a_web_ticket_without_a_token(client, auth):
    sent = await client.post("/v1/forms/demo/tickets", json=FORM)

    assert sent.status_code == 201, sent.text
    number = sent.json()["number"]
    page = await client.get("/v1/tickets", params={"store_id": "demo"}, headers=auth("agent"))
    (ticket,) = [t for t in page.json()["tickets"] if t["number"] == number]
    assert (ticket["channel"], ticket["requester"]["email"]) == ("web", "ann@example.com")
    messages = await client.get(
        f"/v1/tickets/{ticket['ticket_id']}/messages", headers=auth("agent")
    )
    assert [m["body"] for m in messages.json()["messages"]] == [FORM["body"]]


async def test_a_bad_form_is_a_problem_naming_the_field(client):
    sent = await client.post("/v1/forms/demo/tickets", json={**FORM, "email": "not-an-email"})
    assert sent.status_code == 422
    assert sent.json()["errors"][0]["field"].endswith("email")


async def test_a_store_flooding_its_form_is_slowed_down_alone(settings):
    app = create_app(settings.model_copy(update={"rate_limit_public": 1.0}))
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://st") as client,
    ):
        answers = [
            (await client.post("/v1/forms/flood/tickets", json=FORM)).status_code for _ in range(4)
        ]
        other = await client.post("/v1/forms/quiet/tickets", json=FORM)

    assert answers[:2] == [201, 201]
    assert 429 in answers[2:]
    assert other.status_code == 201
