"""The FastAPI app every service starts from: health, metrics, problem+json errors, tracing,
request body limits, and an OpenAPI document that lists the answers these give every route."""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, TypeVar

import annotated_types
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import AfterValidator, SecretStr
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_common.access import AccessMatrix, authorize, install
from crm_common.auth import TokenVerifier
from crm_common.outages import is_outage
from crm_common.problems import PROBLEM_JSON, ProblemError
from crm_common.ratelimit import Rate, RateLimit
from crm_common.settings import BaseServiceSettings

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram("crm_http_request_seconds", "HTTP request latency", ["method", "route"])

_READINESS_TIMEOUT_SECONDS = 3.0
_OUTAGE_RETRY_AFTER_SECONDS = 2

_NUL_MESSAGE = "must not contain the NUL character (\\u0000)"
_T = TypeVar("_T")


def _without_nul(value: _T) -> _T:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(text, str) and "\x00" in text:
        raise ValueError(_NUL_MESSAGE)
    return value


# What PostgreSQL columns hold, for API input that reaches them (a query or path parameter is
# checked for NUL on every route already). A value beyond them would fail its transaction: 500.
WithoutNul = AfterValidator(_without_nul)
"""For a str-like field (e.g. `Annotated[SecretStr, WithoutNul]`): text holds no NUL."""
Text = Annotated[str, WithoutNul]
"""A str a PostgreSQL text column can hold: without NUL."""
Int32 = Annotated[int, annotated_types.Interval(ge=-(2**31), le=2**31 - 1)]
"""An int a PostgreSQL integer column can hold. Narrow it as `Annotated[Int32, Field(ge=0)]`:
its own bounds would win over those of a `= Field(ge=0)` default."""
Int64 = Annotated[int, annotated_types.Interval(ge=-(2**63), le=2**63 - 1)]
"""An int a PostgreSQL bigint column can hold."""


def create_http_app(
    settings: BaseServiceSettings,
    *,
    title: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    readiness: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    body_limits: Mapping[str, int] | None = None,
    public_routes: Sequence[str] = (),
    asyncapi: Mapping[str, Any] | None = None,
    access: AccessMatrix,
) -> FastAPI:
    """`readiness(app)` is called per probe, after the lifespan has built the resources.

    A request body above `settings.http_max_body_bytes` is answered 413; `body_limits` gives
    the routes under a path prefix (e.g. `/v1/imports`, which also covers `/v1/imports/...` and
    `/v1/imports:...`) a limit of their own. Requests bearing a token are limited to
    `settings.rate_limit_per_token` per token; those under a `public_routes` prefix (taking no
    token) to `settings.rate_limit_public` per path. `asyncapi`, the service's AsyncAPI
    document (`crm_common.asyncapi`), is served at `/asyncapi.json`.

    `access`, the service's matrix of roles (`crm_common.access`), decides every request before
    anything else of the route runs; the app is refused (`AccessMatrixError`) when a route has
    no entry in it or an entry has no route.
    """
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        dependencies=[Depends(authorize), Depends(_parameters_without_nul)],
    )
    app.state.token_verifier = TokenVerifier(
        keys=settings.jwt_keys(),
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    _install_problem_handlers(app)
    app.add_middleware(
        _BodyLimit, default=settings.http_max_body_bytes, by_prefix=dict(body_limits or {})
    )
    app.add_middleware(
        RateLimit,
        per_token=_rate(settings.rate_limit_per_token),
        public={
            prefix: rate for prefix in public_routes if (rate := _rate(settings.rate_limit_public))
        },
    )
    _install_http_metrics(app)
    operations = _operations_router(readiness, asyncapi)
    app.include_router(operations)
    for router in routers:
        app.include_router(router)
    install(app, access)
    _install_openapi(
        app,
        operations=operations,
        rate_limited=bool(settings.rate_limit_per_token or settings.rate_limit_public),
        access=access,
    )
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health/.*,metrics")
    return app


def _rate(per_second: float) -> Rate | None:
    return Rate(per_second, burst=max(1, math.ceil(2 * per_second))) if per_second else None


def _parameters_without_nul(request: Request) -> None:
    """Refuse NUL in any path or query parameter of any route: PostgreSQL text cannot hold it."""
    parameters = [
        *(("path", name, value) for name, value in request.path_params.items()),
        *(("query", name, value) for name, value in request.query_params.multi_items()),
    ]
    errors = [
        {"type": "string_nul", "loc": (source, name), "msg": _NUL_MESSAGE, "input": value}
        for source, name, value in parameters
        if "\x00" in name or "\x00" in str(value)
    ]
    if errors:
        raise RequestValidationError(errors)


def problem_response(problem: ProblemError, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.to_dict(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_path(location: Sequence[Any]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        source, rest = parts[0], parts[1:]
        return ".".join(rest) if source == "body" and rest else ".".join([source, *rest])
    return ".".join(parts)


def _install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error, request)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field_path(e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type"),
            }
            for e in error.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        problem = ProblemError(
            422, f"the request is invalid: {fields}", title="Invalid request", errors=errors
        )
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers) if error.headers else None
        problem = ProblemError(error.status_code, str(error.detail), headers=headers)
        return problem_response(problem, request)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        if is_outage(error):
            # Not the request's fault, nor a bug: the caller may try again once the store is back.
            logger.warning(
                "store out of reach", extra={"path": request.url.path, "error": repr(error)}
            )
            problem = ProblemError(
                503,
                "a store this service needs is out of reach; try again shortly",
                headers={"Retry-After": str(_OUTAGE_RETRY_AFTER_SECONDS)},
            )
            return problem_response(problem, request)
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(ProblemError(500, "an unexpected error occurred"), request)


class _BodyTooLarge(StarletteHTTPException):
    """A request body read past its limit (answered 413 like any HTTP error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body may have at most {limit} bytes")


class _BodyLimit:
    """Refuses request bodies above their limit: by Content-Length before the app runs, and by
    counting the bytes as the app reads them (a chunked body has no Content-Length)."""

    def __init__(self, app: ASGIApp, *, default: int, by_prefix: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        # Longest first, so that a prefix inside another one takes its own routes.
        self.by_prefix = sorted(by_prefix.items(), key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_prefix:
            if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in ("", "/", ":"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit, scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _BodyTooLarge:
            # The app's handlers answer it where it is raised; this is for a read outside them.
            if started:
                raise
            await _too_large(limit, scope, receive, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    problem = _BodyTooLarge(limit)
    body = ProblemError(413, str(problem.detail)).to_dict(instance=scope["path"])
    response = JSONResponse(body, status_code=413, media_type=PROBLEM_JSON)
    await response(scope, receive, send)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document: every error answer has this shape.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "the problem's kind; about:blank by default"},
        "title": {"type": "string", "description": "a short summary of the kind"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong with this request"},
        "instance": {"type": "string", "description": "the request's path"},
        "errors": {
            "type": "array",
            "description": "each field at fault, for a request that is invalid",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "its path: `a.b.0` in the body, `query.x`, `header.x`",
                    },
                    "message": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
    },
}
"""The JSON Schema of `ProblemError.to_dict()`, the `Problem` component of every service's API."""

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
# The answers crm_common gives outside the routes' own code, by the kind of route they concern.
_ANY_ROUTE = {422: {"description": "the request is invalid (each field at fault in `errors`)"}}
_WITH_BODY = {413: {"description": "the request body is over its limit"}}
_PARSED_BODY = {400: {"description": "the request body cannot be parsed as its content type"}}
_RATE_LIMITED = {
    429: {"description": "too many requests: try again later", "headers": _RETRY_AFTER}
}
_WITH_TOKEN = {
    401: {"description": "the bearer token is missing or not valid"},
    403: {"description": "the bearer token holds none of the roles this needs"},
}
_NEEDS_STORES = {
    503: {"description": "a store the service needs is out of reach", "headers": _RETRY_AFTER}
}


def _install_openapi(
    app: FastAPI,
    *,
    operations: APIRouter,
    rate_limited: bool,
    access: AccessMatrix,
) -> None:
    """Have `app.openapi()` document, on every route, the answers crm_common gives there."""
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)
        # FastAPI keeps the document until routes change; complete each new one once.
        if not documented or documented[0] is not schema:
            _document_common_answers(
                schema,
                routes=_api_routes(app),
                operations=[route for route in operations.routes if isinstance(route, APIRoute)],
                rate_limited=rate_limited,
                access=access,
            )
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _api_routes(app: FastAPI) -> list[RouteContext]:
    """Every documented API route of `app` as it is served: FastAPI keeps an included router
    as one node, whose routes (and those of routers included into it) take the prefixes and
    dependencies of every include on the way; routes included after `create_http_app` too."""
    return [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
    ]


def _document_common_answers(
    schema: dict[str, Any],
    *,
    routes: Sequence[RouteContext],
    operations: Sequence[APIRoute],
    rate_limited: bool,
    access: AccessMatrix,
) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for route in routes:
        ours = any(route.original_route is operation for operation in operations)
        takes_token = _guarded(access, route)
        answers: dict[int, dict[str, Any]] = dict(_ANY_ROUTE)
        for applies, more in (
            (rate_limited and not ours, _RATE_LIMITED),
            (takes_token, _WITH_TOKEN),
            (not ours, _NEEDS_STORES),
        ):
            if applies:
                answers |= more
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            if "requestBody" in operation:
                answers |= _WITH_BODY
            if route.body_field is not None:
                answers |= _PARSED_BODY
            if takes_token:
                operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            for status, answer in answers.items():
                responses.setdefault(str(status), dict(answer))
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    _as_problem(response)
            operation["responses"] = dict(sorted(responses.items()))
    if any(_guarded(access, route) for route in routes):
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
    # FastAPI's own 422 models, replaced by Problem everywhere.
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)


def _as_problem(response: dict[str, Any]) -> None:
    """An error answer is problem+json: a schema a route gave as JSON is kept, else Problem."""
    content = response.setdefault("content", {})
    given = content.pop("application/json", {}).get("schema")
    if not given or given.get("$ref", "").endswith("/HTTPValidationError"):
        given = _PROBLEM_REF
    content.setdefault(PROBLEM_JSON, {"schema": given})


def _guarded(access: AccessMatrix, route: RouteContext) -> bool:
    """Whether the matrix asks a bearer token of `route`."""
    if route.path_format is None:
        return False
    rules = [access.rule(method, route.path_format) for method in route.methods or ()]
    return any(rule is not None and rule.public is None for rule in rules)


def _install_http_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        HTTP_SECONDS.labels(request.method, template).observe(time.perf_counter() - started)
        return response


def _operations_router(
    readiness: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    asyncapi: Mapping[str, Any] | None = None,
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/health/ready",
        responses={
            200: {"description": "every check passes: `status` ok, `checks` by name"},
            503: {"description": "a check fails: `checks` says which, with its error"},
        },
    )
    async def ready(request: Request) -> JSONResponse:
        checks = readiness(request.app)
        results = await asyncio.gather(*(_run_check(check) for check in checks.values()))
        report = dict(zip(checks, results, strict=True))
        failing = {name: result for name, result in report.items() if result != "ok"}
        if failing:
            problem = ProblemError(
                503, "not ready: " + ", ".join(f"{k} ({v})" for k, v in failing.items())
            )
            body = problem.to_dict(instance="/health/ready") | {"checks": report}
            return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)
        return JSONResponse({"status": "ok", "checks": report})

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if asyncapi is not None:
        document = dict(asyncapi)

        @router.get(
            "/asyncapi.json",
            response_class=JSONResponse,
            responses={200: {"description": "the AsyncAPI 3.0 document of the service's topics"}},
        )
        async def asyncapi_document() -> JSONResponse:
            return JSONResponse(document)

    return router


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), _READINESS_TIMEOUT_SECONDS)
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:200] or type(error).__name__
    return "ok"
