"""What the batch, listing and import routes decide before touching any store."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "params"),
    [("/v1/orders:batch", {}), ("/v1/imports", {"store_id": "demo"}), ("/v1/imports/x:resume", {})],
)
@pytest.mark.parametrize("role", ["viewer", "marketer", "analyst", "agent"])
async def test_writes_need_the_admin_role(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    path: str,
    params: dict[str, str],
    role: str,
) -> None:
    response = await offline_client.post(path, params=params, json={}, headers=auth(role))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("body", [{}, {"orders": {"a": 1}}, {"orders": [{}] * 1001}])
async def test_a_batch_that_is_no_list_of_at_most_1000_is_422_on_orders(
    offline_client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], body: dict[str, Any]
) -> None:
    response = await offline_client.post("/v1/orders:batch", json=body, headers=auth("admin"))

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["orders"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"cancelled": "maybe"}, "query.cancelled"),
        ({"placed_to": "not a time"}, "query.placed_to"),
    ],
)
async def test_listing_parameters_are_checked(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    params: dict[str, Any],
    field: str,
) -> None:
    response = await offline_client.get("/v1/orders", params=params, headers=auth("viewer"))

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
