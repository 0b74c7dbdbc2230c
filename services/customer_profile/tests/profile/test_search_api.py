"""`GET /v1/customers:search` on real Kafka and PostgreSQL: every kind of filter, together,
page after page, never a merged or erased customer."""

from typing import Any

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.integration

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


async def _tag(running, customer_id: str, *tags: str) -> None:
    response = await running.client.patch(
        f"/v1/customers/{customer_id}", json={"tags": {"add": list(tags)}}, headers=MERGE_PATCH
    )
    assert response.status_code == 200, response.text


async def _people(running) -> dict[str, str]:
    """Six customers, one per lifecycle stage, some sharing name prefixes and tags."""
    order = running.order
    await order(
        200,
        email="ann@example.com",
        first_name="Ann",
        last_name="Lee",
        phone="+1 415 555 0132",
        customer_ref="c-ann",
    )
    await order(10, email="ann@example.com", first_name="Ann", last_name="Lee")
    await order(5, email="anna@example.com", first_name="Anna", last_name="Ångström")
    await order(120, email="bob@example.com", first_name="Bob", last_name="Anderson")
    await order(200, email="cleo@example.com", first_name="Cléo", last_name="Lee")
    await order(400, email="dan@example.com", first_name="Dan", last_name="Brown")
    await order(
        3,
        email="eve@example.com",
        first_name="Eve",
        last_name="Adams",
        cancelled_at=running.make_order().placed_at,
    )
    people = {
        "ann": (await running.customer_of("ann@example.com", orders=2))["customer_id"],
        **{
            name: (await running.customer_of(f"{name}@example.com"))["customer_id"]
            for name in ("anna", "bob", "cleo", "dan", "eve")
        },
    }
    await _tag(running, people["ann"], "VIP")
    await _tag(running, people["bob"], "vip", "wholesale")
    await _tag(running, people["cleo"], "wholesale")
    return people


async def test_every_kind_of_search_alone_and_together(running) -> None:
    people = await _people(running)

    async def names(**params: Any) -> list[str]:
        by_id = {customer_id: name for name, customer_id in people.items()}
        return [by_id[customer_id] for customer_id in await running.ids(**params)]

    def ordered(*names: str) -> list[str]:
        return sorted(names, key=lambda name: people[name])

    # Exact identities, through the identity table's digests.
    assert await names(email="ANN@example.com") == ["ann"]
    assert await names(phone="(415) 555-0132", region="US") == ["ann"]
    assert await names(phone="+14155550132") == ["ann"]
    assert await names(store_id="store-a", external_id="c-ann") == ["ann"]
    assert await names(email="nobody@example.com") == []
    assert await names(email="ann@example.com", phone="+14155550132") == ["ann"]
    assert await names(email="ann@example.com", store_id="store-a", external_id="c-bob") == []
    # Name prefixes of the first or the last name, case and accents aside.
    assert await names(name="an") == ordered("ann", "anna", "bob")
    assert await names(name="LEE") == ordered("ann", "cleo")
    assert await names(name="cle") == await names(name="Clé") == ["cleo"]
    assert await names(name="ångs") == await names(name="ANGSTROM") == ["anna"]
    assert await names(name="ann lee") == ["ann"]
    assert await names(name="annab") == []
    # Tags: all of those given.
    assert await names(tag="vip") == await names(tag=" VIP ") == ordered("ann", "bob")
    assert await names(tag=["vip", "wholesale"]) == ["bob"]
    assert await names(tag="unknown") == []
    # Lifecycle stage now, from the order statistics.
    for stage, name in (
        ("active", "ann"),
        ("new", "anna"),
        ("at_risk", "bob"),
        ("lapsed", "cleo"),
        ("churned", "dan"),
        ("prospect", "eve"),
    ):
        assert await names(stage=stage) == [name], stage
    # Together.
    assert await names(name="an", tag="vip") == ordered("ann", "bob")
    assert await names(name="an", stage="new") == ["anna"]
    assert await names(stage="at_risk", tag="vip") == ["bob"]
    assert await names(stage="active", tag="wholesale") == []
    assert await names(email="ann@example.com", name="lee", tag="vip", stage="active") == ["ann"]

    page = await running.search(name="lee")
    ann = next(item for item in page["items"] if item["customer_id"] == people["ann"])
    assert ann["tags"] == ["vip"]
    assert ann["lifecycle_stage"] == "active"
    assert ann["email"] == "ann@example.com"
    assert (ann["identities"], ann["rfm"], ann["addresses"]) == ([], [], [])  # the profile's

    viewer = await running.client.get(
        "/v1/customers:search", params={"tag": "vip"}, headers=running.as_role("viewer")
    )
    assert viewer.status_code == 200
    async with running.app.state.runtime.sessions() as session:
        audited = await session.scalar(
            text("SELECT count(*) FROM audit_log WHERE action = 'customer.search'")
        )
    assert audited
    assert audited > 10


async def test_pages_follow_each_other_without_gaps_or_repeats(running) -> None:
    for number in range(7):
        await running.order(
            number, email=f"pat{number}@example.com", first_name="Pat", last_name=f"Smith{number}"
        )
    await running.order(1, email="other@example.com", first_name="Other", last_name="Person")
    pats = [
        (await running.customer_of(f"pat{number}@example.com"))["customer_id"]
        for number in range(7)
    ]

    first = await running.search(name="pat", limit=3)
    assert len(first["items"]) == 3
    assert first["next_cursor"]
    second = await running.search(name="pat", limit=3, cursor=first["next_cursor"])
    assert len(second["items"]) == 3
    assert second["as_of"] == first["as_of"]
    third = await running.search(name="pat", limit=3, cursor=second["next_cursor"])
    assert len(third["items"]) == 1
    assert third["next_cursor"] is None
    paged = [item["customer_id"] for page in (first, second, third) for item in page["items"]]
    assert paged == sorted(pats)
    assert await running.ids(name="pat", limit=7) == sorted(pats)
    assert (await running.search(name="pat", limit=7))["next_cursor"] is None

    # A customer merged into another, or erased, is found no more.
    survivor, merged, erased = sorted(pats)[:3]
    merge = await running.client.post(
        f"/v1/customers/{survivor}:merge", json={"merge_with": merged}
    )
    assert merge.status_code == 201, merge.text
    assert (await running.client.post(f"/v1/customers/{erased}:erase")).status_code == 200
    found = await running.ids(name="pat", limit=2)
    assert merged not in found
    assert erased not in found
    assert survivor in found
    assert len(found) == 5
    assert await running.ids(email=f"pat{pats.index(erased)}@example.com") == []
    assert erased not in await running.ids(stage="active")


async def test_bad_searches_are_problems_naming_the_parameter(running) -> None:
    async def fields(**params: Any) -> set[str]:
        response = await running.client.get("/v1/customers:search", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return {error["field"] for error in response.json()["errors"]}

    assert await fields() == {
        "query.email",
        "query.phone",
        "query.store_id",
        "query.external_id",
        "query.name",
        "query.tag",
        "query.stage",
    }
    assert await fields(limit=10) == await fields()
    assert await fields(name="ann", cursor="forged") == {"query.cursor"}
    assert await fields(email="not-an-email") == {"query.email"}
    assert await fields(phone="(415) 555-0132") == {"query.phone"}
    assert await fields(name="ann", region="US") == {"query.region"}
    assert await fields(store_id="store-a") == {"query.external_id"}
    assert await fields(name="!!!") == {"query.name"}
    assert await fields(name="a b c d e") == {"query.name"}
    assert await fields(tag=["ok", "x" * 65]) == {"query.tag.1"}
    assert await fields(stage="dormant") == {"query.stage"}
    assert await fields(name="ann", limit=201) == {"query.limit"}

    anonymous = await running.client.get(
        "/v1/customers:search", params={"name": "ann"}, headers={"authorization": ""}
    )
    assert anonymous.status_code == 401
    assert (await running.search(name="ann"))["items"] == []


async def _audited(running, actor: str) -> list[tuple[str, str]]:
    async with running.app.state.runtime.sessions() as session:
        rows = await session.execute(
            text("SELECT action, customer_id FROM audit_log WHERE actor = :actor ORDER BY 2"),
            {"actor": actor},
        )
        return [(action, customer_id) for action, customer_id in rows]


async def test_the_search_statement_audits_exactly_the_customers_shown(running) -> None:
    for number in range(5):
        await running.order(number, email=f"kim{number}@example.com", first_name="Kim")
    kims = sorted(
        [(await running.customer_of(f"kim{n}@example.com"))["customer_id"] for n in range(5)]
    )
    viewer = running.as_role("viewer")  # subject tester@example.com

    async def search(**params: Any) -> dict[str, Any]:
        response = await running.client.get("/v1/customers:search", params=params, headers=viewer)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    # The page is 2 of 5: the third customer, read only to know there is more, is not audited.
    first = await search(name="kim", limit=2)
    assert [item["customer_id"] for item in first["items"]] == kims[:2]
    assert await _audited(running, "tester@example.com") == [
        ("customer.search", customer_id) for customer_id in kims[:2]
    ]
    # Committed by the search itself: another session sees the entries at once.
    last = await search(name="kim", limit=2, cursor=first["next_cursor"])
    last = await search(name="kim", limit=2, cursor=last["next_cursor"])
    assert [item["customer_id"] for item in last["items"]] == kims[4:]
    assert last["next_cursor"] is None
    assert await _audited(running, "tester@example.com") == sorted(
        ("customer.search", customer_id) for customer_id in kims
    )
    # Nothing found, nothing audited; a refused search audits nothing either.
    assert (await search(email="nobody@example.com"))["items"] == []
    refused = await running.client.get(
        "/v1/customers:search", params={"name": "!!!"}, headers=viewer
    )
    assert refused.status_code == 422
    assert len(await _audited(running, "tester@example.com")) == len(kims)


async def test_a_search_item_is_the_profile_without_identities_rfm_and_addresses(running) -> None:
    people = await _people(running)
    await running.client.patch(
        f"/v1/customers/{people['ann']}", json={"traits": {"size": "M"}}, headers=MERGE_PATCH
    )
    for name, customer_id in people.items():
        profile = (await running.client.get(f"/v1/customers/{customer_id}")).json()
        (item,) = (await running.search(email=f"{name}@example.com"))["items"]
        assert item["identities"] == item["rfm"] == item["addresses"] == []
        skip = {"identities", "rfm", "addresses"}
        assert {k: v for k, v in item.items() if k not in skip} == {
            k: v for k, v in profile.items() if k not in skip
        }, name
    (ann,) = (await running.search(email="ann@example.com"))["items"]
    assert ann["traits"] == {"size": "M"}
    assert ann["tags"] == ["vip"]
