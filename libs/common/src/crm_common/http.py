"""The FastAPI app every service starts from: health, metrics, problem+json errors, tracing."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_common.auth import TokenVerifier
from crm_common.problems import PROBLEM_JSON, ProblemError
from crm_common.settings import BaseServiceSettings

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram("crm_http_request_seconds", "HTTP request latency", ["method", "route"])

_READINESS_TIMEOUT_SECONDS = 3.0


def create_http_app(
    settings: BaseServiceSettings,
    *,
    title: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    readiness: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
) -> FastAPI:
    """`readiness(app)` is called per probe, after the lifespan has built the resources."""
    app = FastAPI(title=title, lifespan=lifespan)
    app.state.token_verifier = TokenVerifier(
        public_key=settings.jwt_verification_key(),
        algorithm=settings.jwt_algorithm,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    _install_problem_handlers(app)
    _install_http_metrics(app)
    app.include_router(_operations_router(readiness))
    for router in routers:
        app.include_router(router)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health/.*,metrics")
    return app


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
    async def on_unexpected(request: Request, _: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(ProblemError(500, "an unexpected error occurred"), request)


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
