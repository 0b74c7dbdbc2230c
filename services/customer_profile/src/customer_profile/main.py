"""The customer-profile service: who each customer is, under which identities, what they bought."""

from pathlib import Path

from crm_common.http import create_http_app
from crm_common.runtime import PostgresRuntime
from crm_common.service import serve
from fastapi import FastAPI

from customer_profile import worker
from customer_profile.config import Settings
from customer_profile.customers.api import router as customers_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = PostgresRuntime(settings, topics=worker.topics(settings), migrations_dir=MIGRATIONS)
    worker.register(runtime, settings)
    app = create_http_app(
        settings,
        title="customer-profile",
        lifespan=runtime.lifespan,
        routers=[customers_router],
        readiness=runtime.readiness,
    )
    app.state.runtime = runtime
    return app


def run() -> None:
    serve(Settings(), create_app)
