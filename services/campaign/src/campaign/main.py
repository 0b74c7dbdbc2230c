"""The campaign service: segments, campaigns and messages (for now: contacts and segments)."""

from pathlib import Path

from crm_common.http import create_http_app
from crm_common.runtime import PostgresRuntime
from crm_common.service import serve
from fastapi import FastAPI

from campaign import worker
from campaign.access import ACCESS
from campaign.config import Settings
from campaign.contacts.api import router as contacts_router
from campaign.segments.api import router as segments_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = PostgresRuntime(settings, topics=worker.topics(settings), migrations_dir=MIGRATIONS)
    worker.register(runtime, settings)
    app = create_http_app(
        settings,
        title="campaign",
        lifespan=worker.scheduler(runtime, settings).around(runtime.lifespan),
        routers=[contacts_router, segments_router],
        readiness=runtime.readiness,
        access=ACCESS,
        asyncapi=worker.asyncapi(settings),
    )
    app.state.runtime = runtime
    return app


def run() -> None:
    serve(Settings(), create_app)
