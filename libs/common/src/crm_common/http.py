"""The FastAPI app every service starts from: health, metrics, problem+json errors, tracing,
request body limits."""

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
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import AfterValidator, SecretStr
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
) -> FastAPI:
    """`readiness(app)` is called per probe, after the lifespan has built the resources.

    A request body above `settings.http_max_body_bytes` is answered 413; `body_limits` gives
    the routes under a path prefix (e.g. `/v1/imports`, which also covers `/v1/imports/...` and
    `/v1/imports:...`) a limit of their own. Requests bearing a token are limited to
    `settings.rate_limit_per_token` per token; those under a `public_routes` prefix (taking no
    token) to `settings.rate_limit_public` per path.
    """
    app = FastAPI(title=title, lifespan=lifespan, dependencies=[Depends(_parameters_without_nul)])
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
    app.include_router(_operations_router(readiness))
    for router in routers:
        app.include_router(router)
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


def _operations_router(readiness: Callable[[FastAPI], Mapping[str, ReadinessCheck]]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
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

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), _READINESS_TIMEOUT_SECONDS)
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:200] or type(error).__name__
    return "ok"
