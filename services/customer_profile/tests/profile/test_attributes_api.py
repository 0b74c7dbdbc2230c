"""`PATCH /v1/customers/{id}` on real Kafka and PostgreSQL: traits by merge patch, tag
operations, the events they owe, and how both follow a merge and its undo."""

from typing import Any

import pytest

pytestmark = pytest.mark.integration

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


async def _patch(running, customer_id: str, body: Any, **headers: str) -> Any:
    return await running.client.patch(
        f"/v1/customers/{customer_id}", json=body, headers={**MERGE_PATCH, **headers}
    )


async def _profile(running, customer_id: str) -> dict[str, Any]:
    response = await running.client.get(f"/v1/customers/{customer_id}")
    assert response.status_code == 200, response.text
    profile: dict[str, Any] = response.json()
    return profile


def _updates(running, customer_id: str) -> list[dict[str, Any]]:
    return [
        e["data"]
        for e in running.events
        if e["type"] == "crm.customer.updated" and e["subject"] == customer_id
    ]


async def test_patch_sets_traits_and_tags_and_announces_them(running) -> None:
    await running.order(3, email="ada@example.com")
    customer = await running.customer_of("ada@example.com")
    customer_id, version = customer["customer_id"], customer["version"]

    first = await _patch(
        running,
        customer_id,
        {"traits": {"size": "M", "prefs": {"lang": "en", "news": True}}, "tags": {"add": ["VIP"]}},
    )
    assert first.status_code == 200, first.text
    assert first.json() | {"updated_at": None} == {
        "customer_id": customer_id,
        "tags": ["vip"],
        "traits": {"size": "M", "prefs": {"lang": "en", "news": True}},
        "version": version + 1,
        "updated_at": None,
        "changed": True,
    }
    second = await _patch(
        running,
        customer_id,
        {
            "traits": {"size": None, "prefs": {"news": None}, "shop_id": 2**60 + 1},
            "tags": {"add": ["wholesale"], "remove": ["vip"]},
        },
    )
    assert second.json()["traits"] == {"prefs": {"lang": "en"}, "shop_id": 2**60 + 1}
    assert second.json()["tags"] == ["wholesale"]
    same = await _patch(running, customer_id, {"traits": {"shop_id": 2**60 + 1}, "tags": {}})
    assert same.json()["changed"] is False
    assert same.json()["version"] == version + 2
    replaced = await _patch(running, customer_id, {"tags": {"set": ["a", "b"]}, "traits": None})
    assert (replaced.json()["tags"], replaced.json()["traits"]) == (["a", "b"], {})

    profile = await _profile(running, customer_id)
    assert (profile["tags"], profile["traits"], profile["version"]) == (["a", "b"], {}, version + 3)

    async def announced() -> list[dict[str, Any]]:
        updates = _updates(running, customer_id)
        assert [u["version"] for u in updates] == [version + 1, version + 2, version + 3]
        return updates

    updates = await running.eventually(announced)
    assert updates[0]["tags"] == ["vip"]
    assert updates[1]["traits"] == {"prefs": {"lang": "en"}, "shop_id": 2**60 + 1}
    assert (updates[2]["tags"], updates[2]["traits"]) == (["a", "b"], {})
    created = next(e for e in running.events if e["type"] == "crm.customer.created")
    assert (created["data"]["tags"], created["data"]["traits"]) == ([], {})


async def test_patch_refuses_what_it_cannot_apply(running) -> None:
    await running.order(3, email="bad@example.com")
    customer_id = (await running.customer_of("bad@example.com"))["customer_id"]

    plain = await running.client.patch(f"/v1/customers/{customer_id}", json={"tags": {}})
    assert plain.status_code == 415
    assert plain.headers["accept-patch"] == "application/merge-patch+json"

    async def problem(body: Any) -> set[str]:
        response = await _patch(running, customer_id, body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return {error["field"] for error in response.json().get("errors", [])}

    assert await problem({"traits": {"notes": "x" * 17_000}}) == {"traits"}
    assert await problem({"tags": {"add": [f"t{i}" for i in range(101)]}}) == {"tags.add"}
    assert (await _patch(running, customer_id, {"tags": {"add": ["a", "b"]}})).status_code == 200
    assert await problem({"tags": {"set": ["a"], "add": ["b"]}}) == {"tags"}
    assert await problem({"tags": {"add": ["ok", " "]}}) == {"tags.add.1"}
    assert await problem({"traits": ["not", "an", "object"]}) == {"traits"}
    assert await problem({"email": "someone@example.com"}) == {"email"}
    assert (await _patch(running, "no-such-customer", {"tags": {}})).status_code == 404
    viewer = await _patch(running, customer_id, {"tags": {}}, **running.as_role("viewer"))
    assert viewer.status_code == 403
    agent = await _patch(running, customer_id, {"tags": {"add": ["c"]}}, **running.as_role("agent"))
    assert agent.status_code == 200
    assert (await _profile(running, customer_id))["tags"] == ["a", "b", "c"]
    full = await _patch(running, customer_id, {"tags": {"set": [f"t{i}" for i in range(100)]}})
    assert full.status_code == 200
    assert await problem({"tags": {"add": ["one-too-many"]}}) == {"tags"}
    assert (await _patch(running, customer_id, {"tags": {"add": ["t1"]}})).status_code == 200


async def test_tags_and_traits_follow_a_merge_and_go_back_on_undo(running) -> None:
    await running.order(30, email="old@example.com", first_name="Olga")
    older = (await running.customer_of("old@example.com"))["customer_id"]
    await running.order(3, email="new@example.com", first_name="Nina")
    newer = (await running.customer_of("new@example.com"))["customer_id"]
    await _patch(running, older, {"traits": {"size": "M", "lang": "en"}, "tags": {"add": ["vip"]}})
    await _patch(
        running,
        newer,
        {"traits": {"size": "L", "pets": {"dog": True}}, "tags": {"add": ["wholesale", "vip"]}},
    )

    merge = await running.client.post(f"/v1/customers/{older}:merge", json={"merge_with": newer})
    assert merge.status_code == 201, merge.text
    merge_id = merge.json()["merge_id"]
    merged = await _profile(running, older)
    assert merged["tags"] == ["vip", "wholesale"]
    # Per key from the customer whose traits changed last (the newer one's patch came later).
    assert merged["traits"] == {"size": "L", "lang": "en", "pets": {"dog": True}}
    assert await running.ids(tag="wholesale") == [older]
    assert await running.ids(name="nina") == [older]
    assert await running.ids(name="olga") == []  # the survivor has the newest order's names

    # Changed after the merge: stays after the undo.
    await _patch(running, older, {"traits": {"lang": "fr"}})

    undo = await running.client.post(f"/v1/merges/{merge_id}:undo")
    assert undo.status_code == 200, undo.text
    survivor, restored = await _profile(running, older), await _profile(running, newer)
    assert (survivor["tags"], survivor["traits"]) == (["vip"], {"size": "M", "lang": "fr"})
    assert (restored["tags"], restored["traits"]) == (
        ["vip", "wholesale"],
        {"size": "L", "pets": {"dog": True}},
    )
    assert await running.ids(tag="wholesale") == [newer]
    assert sorted(await running.ids(tag="vip")) == sorted([older, newer])
    assert await running.ids(name="olga") == [older]
    assert await running.ids(name="nina") == [newer]

    async def announced() -> None:
        last_of_older = _updates(running, older)[-1]
        last_of_newer = _updates(running, newer)[-1]
        assert last_of_older["version"] == survivor["version"]
        assert (last_of_older["tags"], last_of_older["traits"]) == (
            survivor["tags"],
            survivor["traits"],
        )
        assert last_of_newer["version"] == restored["version"]
        assert last_of_newer["tags"] == restored["tags"]

    await running.eventually(announced)
