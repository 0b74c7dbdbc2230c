"""The analytics service: order facts, sales roll-ups and reports, KPIs and predicted customer
lifetime value."""

from pathlib import Path

from crm_common.http import create_http_app
from crm_common.runtime import PostgresRuntime
from crm_common.service import serve
from fastapi import FastAPI

from analytics import worker
from analytics.access import ACCESS
from analytics.config import Settings
from analytics.kpis.api import router as kpis_router
from analytics.predictions.api import customers_router, models_router
from analytics.predictions.refresh import Refitter
from analytics.reports.api import router as reports_router
from analytics.stores.api import router as stores_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = PostgresRuntime(settings, topics=worker.topics(settings), migrations_dir=MIGRATIONS)
    worker.register(runtime, settings)
    refitter = Refitter(runtime.sessions, settings)
    app = create_http_app(
        settings,
        title="analytics",
        lifespan=refitter.periodic.around(runtime.lifespan),
        routers=[kpis_router, reports_router, stores_router, models_router, customers_router],
        readiness=runtime.readiness,
        access=ACCESS,
        asyncapi=worker.asyncapi(settings),
    )
    app.state.runtime = runtime
    app.state.refitter = refitter
    return app


def run() -> None:
    serve(Settings(), create_app)
