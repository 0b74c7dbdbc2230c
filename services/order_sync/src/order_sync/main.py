"""The order-sync service: connected shops and their orders, announced on crm.orders.v1."""

from pathlib import Path

from crm_common.http import create_http_app
from crm_common.runtime import PostgresRuntime
from crm_common.service import serve
from fastapi import FastAPI

from order_sync import worker
from order_sync.config import Settings
from order_sync.orders.api import router as orders_router
from order_sync.stores.api import router as stores_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = PostgresRuntime(settings, topics=worker.topics(settings), migrations_dir=MIGRATIONS)
    worker.register(runtime, settings)
    app = create_http_app(
        settings,
        title="order-sync",
        lifespan=runtime.lifespan,
        routers=[stores_router, orders_router],
        readiness=runtime.readiness,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    return app


def run() -> None:
    serve(Settings(), create_app)
