"""What the webhook receivers decide before touching any store."""

import httpx
import pytest
from order_sync.webhooks.api import MAX_BODY_BYTES

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
async def test_a_body_over_the_limit_is_413_and_not_kept(
    offline_client: httpx.AsyncClient, platform: str
) -> None:
    # The app's database is unreachable: answering at all shows nothing was written.
    response = await offline_client.post(
        f"/v1/webhooks/{platform}/shop-1", content=b"x" * (MAX_BODY_BYTES + 1)
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("store_id", ["a" * 65, "bad store", "-leading-dash"])
async def test_a_store_id_no_store_can_have_is_422(
    offline_client: httpx.AsyncClient, store_id: str
) -> None:
    response = await offline_client.post(f"/v1/webhooks/shopify/{store_id}", content=b"{}")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.store_id"
