"""Personal data masked for the roles without the right to it (access.py): analysts and viewers
read profiles, lookups and searches with the contact data, names, identities and street lines
masked; marketers and agents read them as they are. Masked reads are audited all the same."""

from typing import Any

import pytest
from crm_events.shop import Address
from sqlalchemy import text

pytestmark = pytest.mark.integration

EMAIL = "ann.lee@example.com"
HOME = {"name": "Ann Lee", "line1": "12 High St", "city": "Leeds", "postal_code": "LS1 4AP"}


async def _customer(running: Any) -> str:
    order = running.make_order(
        email=EMAIL, phone="+447946000958", first_name="Ann", last_name="Lee"
    )
    order = order.model_copy(
        update={"shipping_address": Address.model_validate({**HOME, "country": "GB"})}
    )
    await running.publish(order)
    customer_id: str = (await running.customer_of(EMAIL))["customer_id"]
    return customer_id


def _assert_masked(customer: dict[str, Any]) -> None:
    assert (customer["email"], customer["phone"]) == ("a***@example.com", "+44********58")
    assert (customer["first_name"], customer["last_name"]) == ("A***", "L***")


@pytest.mark.parametrize("role", ["analyst", "viewer"])
async def test_a_role_without_the_right_reads_the_profile_masked(running: Any, role: str) -> None:
    customer_id = await _customer(running)
    headers = running.as_role(role)

    profile = await running.client.get(f"/v1/customers/{customer_id}", headers=headers)
    assert profile.status_code == 200, profile.text
    body = profile.json()
    _assert_masked(body)
    assert {i["kind"]: i["value"] for i in body["identities"] if i["kind"] != "store_ref"} == {
        "email": "a***@example.com",
        "phone": "+44********58",
    }
    (home,) = body["addresses"]
    assert (home["name"], home["line1"], home["postal_code"]) == ("A***", "1***", "L***")
    assert (home["city"], home["country"]) == ("Leeds", "GB")
    assert body["stats"]["orders_count"] == 1

    lookup = await running.client.get("/v1/customers", params={"email": EMAIL}, headers=headers)
    (found,) = lookup.json()["items"]
    _assert_masked(found)
    search = await running.client.get(
        "/v1/customers:search", params={"email": EMAIL}, headers=headers
    )
    (hit,) = search.json()["items"]
    _assert_masked(hit)

    async with running.app.state.runtime.sessions() as session:
        audited = await session.scalars(
            text("SELECT DISTINCT action FROM audit_log WHERE customer_id = :id"),
            {"id": customer_id},
        )
        assert {"customer.read", "customer.lookup", "customer.search"} <= set(audited)


@pytest.mark.parametrize("role", ["marketer", "agent", "admin"])
async def test_a_role_with_the_right_reads_the_profile_as_it_is(running: Any, role: str) -> None:
    customer_id = await _customer(running)
    headers = running.as_role(role)

    profile = (await running.client.get(f"/v1/customers/{customer_id}", headers=headers)).json()
    assert (profile["email"], profile["phone"]) == (EMAIL, "+447946000958")
    assert (profile["first_name"], profile["addresses"][0]["line1"]) == ("Ann", "12 High St")
    search = await running.client.get(
        "/v1/customers:search", params={"email": EMAIL}, headers=headers
    )
    assert [hit["email"] for hit in search.json()["items"]] == [EMAIL]


async def test_a_viewer_may_not_read_the_timeline(running: Any) -> None:
    customer_id = await _customer(running)
    path = f"/v1/customers/{customer_id}/timeline"
    assert (await running.client.get(path, headers=running.as_role("viewer"))).status_code == 403
    assert (await running.client.get(path, headers=running.as_role("agent"))).status_code == 200
