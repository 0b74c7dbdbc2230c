"""What the API decides before touching any store: authentication, roles and validation."""

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from crm_common.auth import issue_token
from crm_common.devtoken import ensure_key_pair

PROBLEM = "application/problem+json"


async def test_without_a_token_the_api_answers_401(
    offline_client: httpx.AsyncClient, make_order: Callable[..., dict[str, Any]]
) -> None:
    response = await offline_client.post("/v1/orders", json=make_order("demo"))

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/orders"), ("POST", "/v1/stores")])
@pytest.mark.parametrize("role", ["viewer", "marketer", "analyst", "agent"])
async def test_writes_need_the_admin_role(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    make_order: Callable[..., dict[str, Any]],
    method: str,
    path: str,
    role: str,
) -> None:
    response = await offline_client.request(
        method, path, json=make_order("demo"), headers=auth(role)
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


async def test_a_forged_token_is_rejected(
    offline_client: httpx.AsyncClient, make_order: Callable[..., dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        other_key, _ = ensure_key_pair(Path(directory))
        token = issue_token(other_key.read_text(), subject="mallory", roles=["admin"])

    response = await offline_client.post(
        "/v1/orders", json=make_order("demo"), headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401


def fields_of(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"lines": []}, {"lines"}),
        ({"total": 32.0}, {"total"}),
        ({"total": "32,00"}, {"total"}),
        ({"currency": "dollars"}, {"currency"}),
        ({"placed_at": "2026-11-01T10:00:00"}, {"placed_at"}),
        ({"external_id": 1.5e15}, {"external_id"}),
        ({"financial_status": "sort of paid"}, {"financial_status"}),
        ({"customer": {"first_name": "Ann"}}, {"customer"}),
        (
            {"lines": [{"name": "Mug", "quantity": 0, "unit_price": "1"}, {"quantity": 1}]},
            {"lines.0.quantity", "lines.1.name", "lines.1.unit_price"},
        ),
    ],
)
async def test_an_invalid_order_is_422_naming_each_field(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    make_order: Callable[..., dict[str, Any]],
    change: dict[str, Any],
    fields: set[str],
) -> None:
    response = await offline_client.post(
        "/v1/orders", json=make_order("demo", **change), headers=auth("admin")
    )

    assert fields_of(response) == fields


@pytest.mark.parametrize("missing", ["store_id", "external_id", "placed_at", "currency", "total"])
async def test_an_incomplete_order_is_422_naming_what_is_missing(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    make_order: Callable[..., dict[str, Any]],
    missing: str,
) -> None:
    order = make_order("demo")
    del order[missing]

    response = await offline_client.post("/v1/orders", json=order, headers=auth("admin"))

    assert fields_of(response) == {missing}


async def test_a_body_that_is_not_json_is_422(
    offline_client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]
) -> None:
    response = await offline_client.post(
        "/v1/orders",
        content=b"{not json",
        headers={**auth("admin"), "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"platform": "magento"}, {"platform"}),
        ({"store_id": "has space"}, {"store_id"}),
        ({"store_id": ""}, {"store_id"}),
        ({"currency": "EURO"}, {"currency"}),
        ({"country": "USA"}, {"country"}),
        ({"country": "XX"}, {"country"}),
        ({"name": ""}, {"name"}),
        ({"webhook_secret": ""}, {"webhook_secret"}),
        ({"colour": "blue"}, {"colour"}),
    ],
)
async def test_an_invalid_store_is_422_naming_each_field(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    change: dict[str, Any],
    fields: set[str],
) -> None:
    store = {"store_id": "s1", "platform": "shopify", "name": "S", "currency": "USD", **change}

    response = await offline_client.post("/v1/stores", json=store, headers=auth("admin"))

    assert fields_of(response) == fields


@pytest.mark.parametrize(
    ("method", "path", "params", "field"),
    [
        ("GET", "/v1/orders", {"store_id": "s\x00"}, "query.store_id"),
        ("GET", "/v1/orders", {"cursor": "\x00"}, "query.cursor"),
        ("GET", "/v1/orders/o%00", {}, "path.order_id"),
        ("GET", "/v1/stores/s%001", {}, "path.store_id"),
        ("GET", "/v1/inventory/sku%00", {"store_id": "s1"}, "path.sku"),
        ("GET", "/v1/webhooks/deliveries", {"topic": "orders/\x00"}, "query.topic"),
        ("GET", "/v1/imports/i%00/errors", {}, "path.import_id"),
    ],
)
async def test_a_nul_character_in_a_parameter_is_422_naming_it(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    method: str,
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = await offline_client.request(method, path, params=params, headers=auth("admin"))

    assert fields_of(response) == {field}


@pytest.mark.parametrize(
    ("method", "path", "body", "fields"),
    [
        ("POST", "/v1/stores", {"name": "S\x00"}, {"name"}),
        ("POST", "/v1/stores", {"webhook_secret": "k\x00"}, {"webhook_secret"}),
        ("PUT", "/v1/inventory/MUG?store_id=s1", {"quantity": 2**31}, {"quantity"}),
        (
            "PUT",
            "/v1/inventory/MUG",
            {"store_id": "s\x00", "quantity": 1, "low_stock_threshold": 2**31},
            {"store_id", "low_stock_threshold"},
        ),
        ("GET", f"/v1/webhooks/deliveries/{2**63}", None, {"path.delivery"}),
        ("POST", f"/v1/webhooks/deliveries/{2**63}:replay", None, {"path.delivery"}),
    ],
)
async def test_text_with_nul_and_ints_beyond_their_column_are_422_naming_them(
    offline_client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    fields: set[str],
) -> None:
    if path == "/v1/stores":
        body = {"store_id": "s1", "platform": "shopify", "name": "S", "currency": "USD", **body}

    response = await offline_client.request(method, path, json=body, headers=auth("admin"))

    assert fields_of(response) == fields
