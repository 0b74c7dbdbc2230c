from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from crm_common.access import ADMIN_ONLY, OPERATIONS, AccessMatrix, public
from crm_common.auth import Principal, Role, issue_token
from crm_common.devtoken import ensure_key_pair
from crm_common.http import Int32, Int64, Text, create_http_app
from crm_common.problems import PROBLEM_JSON, NotFound
from crm_common.settings import BaseServiceSettings
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

OPEN = public("a test route")
# Served without an AsyncAPI document, so without its route.
SERVED = {k: v for k, v in OPERATIONS.items() if k != "GET /asyncapi.json"}
ACCESS = AccessMatrix.of(
    "test",
    {
        **SERVED,
        "POST /parts/{part_id}": OPEN,
        "POST /uploads": OPEN,
        "POST /widgets": ADMIN_ONLY,
        "GET /widgets/{name}": OPEN,
        "GET /failures/{kind}": OPEN,
    },
    personal_data=(),
)


class Widget(BaseModel):
    name: str
    size: int


class Part(BaseModel):
    label: Text
    count: Int32


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/parts/{part_id}")
    async def store_part(part_id: Int64, part: Part, kind: str | None = None) -> Part:
        return part

    @router.post("/uploads")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": sum([len(chunk) async for chunk in request.stream()])}

    @router.post("/widgets")
    async def create(widget: Widget) -> Widget:
        return widget

    @router.get("/widgets/{name}")
    async def read(name: str) -> Widget:
        raise NotFound(f"widget {name}")

    @router.get("/failures/{kind}")
    async def fail(kind: str) -> None:
        if kind == "outage":
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        raise ZeroDivisionError("a bug")

    return router


@asynccontextmanager
async def _no_resources(_: FastAPI) -> AsyncIterator[None]:
    yield


BODY_LIMIT = 1000
UPLOAD_LIMIT = 5000


@pytest.fixture
def app(jwt_keys: tuple[str, str]) -> FastAPI:
    settings = BaseServiceSettings(
        service_name="test", jwt_public_key=jwt_keys[1], http_max_body_bytes=BODY_LIMIT
    )
    failing = {"store": _fails}
    return create_http_app(
        settings,
        title="test",
        lifespan=_no_resources,
        routers=[_router()],
        readiness=lambda _: failing,
        body_limits={"/uploads": UPLOAD_LIMIT},
        access=ACCESS,
    )


async def _fails() -> None:
    raise ConnectionError("store unreachable")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _auth(private_key: str, *roles: str) -> dict[str, str]:
    token = issue_token(private_key, subject="tester", roles=list(roles))
    return {"Authorization": f"Bearer {token}"}


async def test_invalid_body_is_a_problem_naming_each_field(
    client: httpx.AsyncClient, jwt_keys: tuple[str, str]
) -> None:
    response = await client.post(
        "/widgets", json={"size": "big"}, headers=_auth(jwt_keys[0], "admin")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"name", "size"}


async def test_missing_token_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/widgets", json={"name": "a", "size": 1})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_token_signed_by_another_key_is_401(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    other_private, _ = ensure_key_pair(tmp_path)
    response = await client.post(
        "/widgets", json={"name": "a", "size": 1}, headers=_auth(other_private.read_text(), "admin")
    )
    assert response.status_code == 401


async def test_token_without_role_is_403(
    client: httpx.AsyncClient, jwt_keys: tuple[str, str]
) -> None:
    response = await client.post(
        "/widgets", json={"name": "a", "size": 1}, headers=_auth(jwt_keys[0], "viewer")
    )
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


async def test_admin_token_passes(client: httpx.AsyncClient, jwt_keys: tuple[str, str]) -> None:
    response = await client.post(
        "/widgets", json={"name": "a", "size": 1}, headers=_auth(jwt_keys[0], "admin")
    )
    assert response.status_code == 200
    assert response.json() == {"name": "a", "size": 1}


async def test_not_found_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/widgets/nope")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "widget nope not found",
        "instance": "/widgets/nope",
    }


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_readiness_reports_failing_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert "store unreachable" in response.json()["checks"]["store"]
    assert (await client.get("/health/live")).status_code == 200


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/widgets/x")
    body = (await client.get("/metrics")).text
    assert 'crm_http_requests_total{method="GET",route="/widgets/{name}",status="404"}' in body


def test_admin_role_satisfies_every_requirement() -> None:
    admin = Principal(subject="a", roles=frozenset({Role.ADMIN}))
    viewer = Principal(subject="v", roles=frozenset({Role.VIEWER}))
    assert admin.has_any(frozenset({Role.MARKETER}))
    assert viewer.has_any(frozenset({Role.MARKETER, Role.VIEWER}))
    assert not viewer.has_any(frozenset({Role.MARKETER}))


def _problem_fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return {error["field"] for error in response.json()["errors"]}


async def _chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 100):
        yield b"x" * 100


@pytest.mark.parametrize("path", ["/widgets", "/uploads"])
async def test_a_body_declared_over_the_limit_is_413_before_it_is_read(
    client: httpx.AsyncClient, path: str
) -> None:
    limit = UPLOAD_LIMIT if path == "/uploads" else BODY_LIMIT

    response = await client.post(path, content=b"x" * (limit + 1))

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert str(limit) in response.json()["detail"]


@pytest.mark.parametrize("path", ["/widgets", "/uploads"])
async def test_a_chunked_body_is_counted_as_it_arrives_and_stopped_at_the_limit(
    client: httpx.AsyncClient, path: str
) -> None:
    limit = UPLOAD_LIMIT if path == "/uploads" else BODY_LIMIT

    response = await client.post(
        path, content=_chunks(limit + 100), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_a_route_with_a_larger_limit_takes_a_body_over_the_default(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/uploads", content=_chunks(UPLOAD_LIMIT))

    assert response.status_code == 200, response.text
    assert response.json() == {"bytes": UPLOAD_LIMIT}


async def test_nul_in_a_path_or_query_parameter_is_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    part = {"label": "bolt", "count": 1}

    in_query = await client.post("/parts/1", params={"kind": "a\x00b"}, json=part)
    in_path = await client.get("/widgets/a%00b")

    assert _problem_fields(in_query) == {"query.kind"}
    assert _problem_fields(in_path) == {"path.name"}


async def test_nul_in_text_and_ints_beyond_their_column_are_422_naming_them(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"/parts/{2**63}", json={"label": "a\x00", "count": 2**31})

    assert _problem_fields(response) == {"path.part_id", "label", "count"}
    accepted = await client.post(f"/parts/{2**63 - 1}", json={"label": "a", "count": 2**31 - 1})
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("kind", "status", "retry_after"), [("outage", 503, "2"), ("bug", 500, None)]
)
async def test_a_store_out_of_reach_is_503_to_try_again_and_a_bug_is_500(
    app: FastAPI, kind: str, status: int, retry_after: str | None
) -> None:
    # As a server answers: the error handled, not raised into the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"/failures/{kind}")
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == status
    assert response.headers.get("retry-after") == retry_after


def test_the_document_gives_routes_of_nested_routers_the_common_answers(
    jwt_keys: tuple[str, str],
) -> None:
    """FastAPI keeps an included router as one node: its routes, those of routers included into
    it and those included after the app is made are documented like the others."""
    inner = APIRouter(prefix="/inner")

    @inner.get("/{name}", responses={404: {"description": "no such widget"}})
    async def read(name: str) -> Widget:
        raise NotFound(f"widget {name}")

    @inner.post("/widgets")
    async def create(widget: Widget) -> Widget:
        return widget

    outer = APIRouter(prefix="/v1")
    outer.include_router(inner)
    later = APIRouter()

    @later.get("/later")
    async def later_route() -> dict[str, str]:
        return {}

    settings = BaseServiceSettings(service_name="test", jwt_public_key=jwt_keys[1])
    access = AccessMatrix.of(
        "test",
        {**SERVED, "GET /v1/inner/{name}": ADMIN_ONLY, "POST /v1/inner/widgets": ADMIN_ONLY},
        personal_data=(),
    )
    app = create_http_app(
        settings,
        title="test",
        lifespan=_no_resources,
        routers=[outer],
        readiness=lambda _: {},
        access=access,
    )
    app.include_router(later)

    paths = app.openapi()["paths"]
    reading = paths["/v1/inner/{name}"]["get"]
    assert {"401", "403", "404", "422", "503"} <= set(reading["responses"])
    assert list(reading["responses"]["404"]["content"]) == [PROBLEM_JSON]
    assert reading["security"] == [{"bearer": []}]
    assert {"400", "401", "413", "503"} <= set(paths["/v1/inner/widgets"]["post"]["responses"])
    assert "503" in paths["/later"]["get"]["responses"]
