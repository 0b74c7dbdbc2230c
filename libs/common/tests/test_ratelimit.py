"""Rate limits: per token and per public path, answered 429 with Retry-After before the app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from crm_common.access import EVERYONE, OPERATIONS, AccessMatrix, public
from crm_common.auth import issue_token
from crm_common.http import create_http_app
from crm_common.problems import PROBLEM_JSON
from crm_common.ratelimit import Buckets, Rate
from crm_common.settings import BaseServiceSettings
from fastapi import APIRouter, FastAPI


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_takes_its_burst_then_one_request_per_interval() -> None:
    clock = Clock()
    buckets = Buckets(Rate(per_second=2, burst=3), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0  # another key has a bucket of its own
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(0.5)
    # Refused requests count for nothing: waiting the answer given is enough.
    clock.now += 0.5
    assert buckets.take("a") == 0
    clock.now += 10
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]


def test_a_rate_needs_a_positive_rate_and_a_burst() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        Rate(per_second=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        Rate(per_second=1, burst=0)


@asynccontextmanager
async def _nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


# Served without an AsyncAPI document, so without its route.
SERVED = {k: v for k, v in OPERATIONS.items() if k != "GET /asyncapi.json"}


@pytest.fixture
async def client(jwt_keys: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.get("/things")
    async def things() -> dict[str, str]:
        return {}

    @router.post("/hooks/{store}")
    async def hook(store: str) -> dict[str, str]:
        return {"store": store}

    # A rate of 0.5/s: bursts of 1, and the next request a second later at the earliest.
    settings = BaseServiceSettings(
        service_name="test",
        jwt_public_key=jwt_keys[1],
        rate_limit_per_token=0.5,
        rate_limit_public=0.5,
    )
    app = create_http_app(
        settings,
        title="test",
        lifespan=_nothing,
        routers=[router],
        readiness=lambda _: {},
        public_routes=["/hooks"],
        access=AccessMatrix.of(
            "test",
            {**SERVED, "GET /things": EVERYONE, "POST /hooks/{store}": public("a test hook")},
            personal_data=(),
        ),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _bearer(private_key: str, subject: str) -> dict[str, str]:
    token = issue_token(private_key, subject=subject, roles=["viewer"])
    return {"Authorization": f"Bearer {token}"}


async def test_each_token_has_its_own_limit_and_is_told_when_to_come_back(
    client: httpx.AsyncClient, jwt_keys: tuple[str, str]
) -> None:
    first, second = _bearer(jwt_keys[0], "one"), _bearer(jwt_keys[0], "two")
    assert (await client.get("/things", headers=first)).status_code == 200
    refused = await client.get("/things", headers=first)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.headers["retry-after"] == "2"
    assert refused.json()["status"] == 429
    assert (await client.get("/things", headers=second)).status_code == 200
    # Health and metrics are never limited; a request without a token is refused by the access
    # matrix, not the rate limit.
    for _ in range(3):
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/things")).status_code == 401


async def test_a_public_route_is_limited_per_path(client: httpx.AsyncClient) -> None:
    assert (await client.post("/hooks/a")).status_code == 200
    assert (await client.post("/hooks/a")).status_code == 429
    assert (await client.post("/hooks/b")).status_code == 200
