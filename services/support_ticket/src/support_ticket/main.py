"""The support-ticket service: tickets, SLAs, macros, knowledge base, CSAT (for now: its copy of
the customers)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crm_common.http import create_http_app
from crm_common.runtime import MongoRuntime
from crm_common.service import serve
from fastapi import FastAPI

from support_ticket import indexes, worker
from support_ticket.access import ACCESS
from support_ticket.config import Settings
from support_ticket.customers.api import router as customers_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = MongoRuntime(settings, topics=worker.topics(settings))
    worker.register(runtime, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Before the broker starts: the consumers' queries rely on these indexes.
        await indexes.ensure_indexes(runtime.database)
        async with runtime.lifespan(app):
            yield

    app = create_http_app(
        settings,
        title="support-ticket",
        lifespan=lifespan,
        routers=[customers_router],
        readiness=runtime.readiness,
        access=ACCESS,
        asyncapi=worker.asyncapi(settings),
    )
    app.state.runtime = runtime
    return app


def run() -> None:
    serve(Settings(), create_app)
