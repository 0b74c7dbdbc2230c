"""Registering and reading stores on a real PostgreSQL (and a started broker)."""

from collections.abc import Awaitable, Callable

import httpx
import pytest
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from sqlalchemy import text

pytestmark = pytest.mark.integration


async def test_a_registered_store_is_readable_without_its_secret(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    store_id: str,
) -> None:
    body = {
        "store_id": store_id,
        "platform": "shopify",
        "name": "Mugs & Co",
        "currency": "eur",
        "country": "de",
        "webhook_secret": "s3cret-value",
    }

    created = await client.post("/v1/stores", json=body, headers=auth("admin"))
    read = await client.get(f"/v1/stores/{store_id}", headers=auth("viewer"))

    assert created.status_code == 201, created.text
    assert read.status_code == 200
    for response in (created, read):
        store = response.json()
        assert store["store_id"] == store_id
        assert store["platform"] == "shopify"
        assert store["currency"] == "EUR"
        assert store["country"] == "DE"
        assert store["webhook_secret_set"] is True
        assert "s3cret-value" not in response.text
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        stored = await session.scalar(
            text("SELECT webhook_secret FROM stores WHERE store_id = :id"), {"id": store_id}
        )
    assert stored == "s3cret-value"


async def test_a_store_id_can_be_registered_once(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    store_id: str,
) -> None:
    await register_store(client, store_id)

    again = await client.post(
        "/v1/stores",
        json={"store_id": store_id, "platform": "custom", "name": "Other", "currency": "USD"},
        headers=auth("admin"),
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert store_id in again.json()["detail"]
    read = await client.get(f"/v1/stores/{store_id}", headers=auth("viewer"))
    assert read.json()["name"] == "Test shop"


async def test_an_unknown_store_is_404(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]
) -> None:
    response = await client.get("/v1/stores/nope", headers=auth("analyst"))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_reading_needs_a_token(client: httpx.AsyncClient, store_id: str) -> None:
    response = await client.get(f"/v1/stores/{store_id}")

    assert response.status_code == 401
