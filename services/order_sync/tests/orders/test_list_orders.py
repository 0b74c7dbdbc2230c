"""GET /v1/orders on real PostgreSQL: filters, newest first, every order once across pages."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from order_sync.orders.events import order_id_for

pytestmark = pytest.mark.integration

Json = dict[str, Any]
SubmitOrders = Callable[..., Awaitable[int | None]]
START = datetime(2026, 11, 1, tzinfo=UTC)
FINANCIAL = ("pending", "paid", "partially_refunded", "refunded")
FULFILLMENT = ("unfulfilled", "partial", "fulfilled")


def shop_orders(store_id: str, count: int, make_order: Callable[..., Json]) -> list[Json]:
    orders = []
    for n in range(count):
        placed = START + timedelta(hours=n // 3)  # three orders share each instant
        orders.append(
            make_order(
                store_id,
                f"L-{n}",
                placed_at=placed.isoformat(),
                updated_at=placed.isoformat(),
                financial_status=FINANCIAL[n % 4],
                fulfillment_status=FULFILLMENT[n % 3],
                cancelled_at=placed.isoformat() if n % 5 == 0 else None,
                refunded_total="32.00" if n % 4 == 3 else "0",
                customer={"external_id": f"c-{n % 7}", "email": f"Buyer{n % 4}@Example.COM"},
            )
        )
    return orders


def expected(orders: list[Json], keep: Callable[[Json], bool]) -> list[str]:
    kept = [o for o in orders if keep(o)]
    kept.sort(
        key=lambda o: (o["placed_at"], order_id_for(o["store_id"], o["external_id"])),
        reverse=True,
    )
    return [order_id_for(o["store_id"], o["external_id"]) for o in kept]


async def page_through(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any], limit: int
) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/orders", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["orders"]) <= limit
        seen.extend(o["order_id"] for o in page["orders"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


async def test_pages_over_120_orders_hold_each_match_once_newest_first(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    other = f"{store_id}-other"
    await register_store(client, store_id)
    await register_store(client, other)
    mine, theirs = shop_orders(store_id, 120, make_order), shop_orders(other, 30, make_order)
    response = await client.post(
        "/v1/orders:batch", json={"orders": mine + theirs}, headers=auth("admin")
    )
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    # Looking orders up by email, and reading the emails, take the personal-data right.
    agent = auth("agent")
    day_two = (START + timedelta(days=1)).isoformat()

    cases: list[tuple[dict[str, Any], Callable[[Json], bool]]] = [
        ({"store_id": store_id}, lambda o: o["store_id"] == store_id),
        ({}, lambda o: True),
        (
            {"store_id": store_id, "financial_status": ["paid", "refunded"]},
            lambda o: o["store_id"] == store_id and o["financial_status"] in {"paid", "refunded"},
        ),
        (
            {"store_id": store_id, "fulfillment_status": "fulfilled", "cancelled": "false"},
            lambda o: (
                o["store_id"] == store_id
                and o["fulfillment_status"] == "fulfilled"
                and o["cancelled_at"] is None
            ),
        ),
        ({"cancelled": "true"}, lambda o: o["cancelled_at"] is not None),
        (
            {"store_id": store_id, "customer_external_id": "c-3"},
            lambda o: o["store_id"] == store_id and o["customer"]["external_id"] == "c-3",
        ),
        (
            {"customer_email": "buyer1@example.com"},
            lambda o: o["customer"]["email"] == "Buyer1@Example.COM",
        ),
        (
            {"store_id": store_id, "placed_from": "2026-11-01T05:00:00Z", "placed_to": day_two},
            lambda o: (
                o["store_id"] == store_id
                and "2026-11-01T05:00:00+00:00" <= o["placed_at"] < day_two
            ),
        ),
    ]
    for params, keep in cases:
        want = expected(mine + theirs, keep)
        assert want, params
        for limit in (17, 500):
            assert await page_through(client, agent, params, limit) == want, (params, limit)

    first = (
        await client.get("/v1/orders", params={"store_id": store_id, "limit": 2}, headers=agent)
    ).json()
    # L-117 to L-119 share the newest placed_at, so their order ids decide between them.
    newest = expected(mine, lambda o: True)[:2]
    assert [o["order_id"] for o in first["orders"]] == newest
    snapshots = {o["external_id"]: o for o in first["orders"]}
    assert set(snapshots) <= {"L-117", "L-118", "L-119"}
    for external_id, snapshot in snapshots.items():
        n = int(external_id.removeprefix("L-"))
        assert snapshot["financial_status"] == FINANCIAL[n % 4]
        assert snapshot["net_paid"] == {0: "0", 1: "32.00", 2: "32.00", 3: "0.00"}[n % 4]
        assert snapshot["version"] == 1


async def test_bad_listing_requests_name_the_parameter_at_fault(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    batch = {"orders": shop_orders(store_id, 3, make_order)}
    await client.post("/v1/orders:batch", json=batch, headers=auth("admin"))
    viewer = auth("viewer")
    page = await client.get("/v1/orders", params={"store_id": store_id, "limit": 1}, headers=viewer)
    cursor = page.json()["next_cursor"]

    bad = {
        "cursor": {"cursor": cursor},  # issued for store_id=...
        "query.limit": {"limit": 501},
        "query.placed_from": {"placed_from": "2026-11-01T10:00:00"},  # no offset
        "query.financial_status.0": {"financial_status": "lost"},
        "customer_external_id": {"customer_external_id": "c-1"},
        "placed_to": {"placed_from": "2026-11-02T00:00:00Z", "placed_to": "2026-11-01T00:00:00Z"},
    }
    for field, params in bad.items():
        response = await client.get("/v1/orders", params=params, headers=viewer)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    assert (await client.get("/v1/orders")).status_code == 401


async def test_roles_without_the_personal_data_right_read_orders_masked(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    store_id: str,
    submit_order: SubmitOrders,
) -> None:
    await register_store(client, store_id)
    address = {
        "name": "Ann Lee",
        "line1": "1 Market St",
        "line2": "Apt 4",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": "94105",
        "country": "US",
    }
    customer = {
        "external_id": "c-9",
        "email": f"ann.lee@{store_id}.example.com",
        "phone": "+14155550100",
        "first_name": "Ann",
        "last_name": "Lee",
    }
    order = make_order(
        store_id, "M-1", customer=customer, billing_address=address, shipping_address=address
    )
    assert await submit_order(client, order) == 1
    order_id = order_id_for(store_id, "M-1")
    masked_address = {
        **address,
        "name": "A***",
        "line1": "1***",
        "line2": "A***",
        "postal_code": "9***",
    }

    for role in ("viewer", "analyst", "marketer"):
        one = (await client.get(f"/v1/orders/{order_id}", headers=auth(role))).json()
        [listed] = (
            await client.get("/v1/orders", params={"store_id": store_id}, headers=auth(role))
        ).json()["orders"]
        for shown in (one, listed):
            assert shown["customer"] == {
                **shown["customer"],
                "external_id": "c-9",
                "email": f"a***@{store_id}.example.com",
                "phone": "+14*******00",
                "first_name": "A***",
                "last_name": "L***",
            }, role
            assert shown["billing_address"] == masked_address, role
            assert shown["shipping_address"] == masked_address, role
        by_email = await client.get(
            "/v1/orders", params={"customer_email": customer["email"]}, headers=auth(role)
        )
        assert by_email.status_code == 403, role
        assert by_email.headers["content-type"] == "application/problem+json"

    for role in ("agent", "admin"):
        shown = (await client.get(f"/v1/orders/{order_id}", headers=auth(role))).json()
        assert {k: shown["customer"][k] for k in customer} == customer, role
        assert shown["shipping_address"] == address, role
        [found] = (
            await client.get(
                "/v1/orders", params={"customer_email": customer["email"]}, headers=auth(role)
            )
        ).json()["orders"]
        assert found["order_id"] == order_id
