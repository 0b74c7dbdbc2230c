"""The order-sync service: connected shops and their orders, announced on crm.orders.v1."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from crm_common.http import create_http_app
from crm_common.producer import RecordProducer
from crm_common.runtime import PostgresRuntime
from crm_common.service import serve
from fastapi import FastAPI

from order_sync import worker
from order_sync.access import ACCESS
from order_sync.carts.sweeper import AbandonmentSweeper
from order_sync.config import Settings
from order_sync.imports.api import router as imports_router
from order_sync.imports.runner import ImportRunner
from order_sync.inventory.api import router as inventory_router
from order_sync.inventory.events import bind_topic
from order_sync.orders.api import router as orders_router
from order_sync.orders.intake import OrderIntake
from order_sync.stores.api import router as stores_router
from order_sync.webhooks.api import MAX_BODY_BYTES as WEBHOOK_MAX_BODY_BYTES
from order_sync.webhooks.api import router as webhooks_router
from order_sync.webhooks.applier import DeliveryApplier
from order_sync.webhooks.deliveries.api import router as deliveries_router
from order_sync.webhooks.deliveries.retention import DeliveryRetention

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = PostgresRuntime(settings, topics=worker.topics(settings), migrations_dir=MIGRATIONS)
    worker.register(runtime, settings)
    bind_topic(runtime.sessions, settings.inventory_topic)
    sweeper = AbandonmentSweeper.configured(runtime.sessions, settings)
    retention = DeliveryRetention.configured(runtime.sessions, settings)
    applier = DeliveryApplier.configured(runtime.sessions, settings)
    intake = OrderIntake(
        sessions=runtime.sessions,
        producer=RecordProducer(runtime.broker),
        topic=settings.shop_orders_topic,
    )
    imports = ImportRunner(engine=runtime.engine, sessions=runtime.sessions, settings=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            imports.start()
            try:
                yield
            finally:
                await imports.stop()

    app = create_http_app(
        settings,
        title="order-sync",
        lifespan=applier.periodic.around(
            retention.periodic.around(sweeper.periodic.around(lifespan))
        ),
        routers=[
            stores_router,
            orders_router,
            webhooks_router,
            deliveries_router,
            imports_router,
            inventory_router,
        ],
        readiness=runtime.readiness,
        access=ACCESS,
        asyncapi=worker.asyncapi(settings),
        body_limits={
            imports_router.prefix: settings.import_max_bytes,
            webhooks_router.prefix: WEBHOOK_MAX_BODY_BYTES,
        },
        public_routes=[webhooks_router.prefix],
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.order_intake = intake
    app.state.import_runner = imports
    app.state.checkout_sweeper = sweeper
    app.state.webhook_retention = retention
    app.state.webhook_applier = applier
    return app


def run() -> None:
    serve(Settings(), create_app)
