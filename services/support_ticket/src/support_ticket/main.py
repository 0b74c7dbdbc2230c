"""The support-ticket service: tickets and their threads, email in and out, the web form, and
the support desk's copy of the customers, SLA policies and their scheduler (macros, knowledge
base and CSAT to come)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from crm_common.http import create_http_app
from crm_common.periodic import Periodic
from crm_common.runtime import MongoRuntime
from crm_common.service import serve
from fastapi import FastAPI

from support_ticket import flows, indexes, worker
from support_ticket.access import ACCESS
from support_ticket.config import Settings
from support_ticket.customers.api import router as customers_router
from support_ticket.mail.api import router as mail_router
from support_ticket.mail.listener import SmtpListener
from support_ticket.sla.api import router as sla_router
from support_ticket.tickets import alerts
from support_ticket.tickets.api import router as tickets_router
from support_ticket.tickets.relay import TicketRelay
from support_ticket.tickets.thread import MAX_ATTACHMENTS
from support_ticket.views.api import router as views_router
from support_ticket.webform.api import router as webform_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = MongoRuntime(settings, topics=worker.topics(settings))
    worker.register(runtime, settings)
    relay = TicketRelay(
        runtime.database,
        runtime.broker,
        topic=settings.tickets_topic,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval_seconds,
    )
    scheduler = Periodic(
        "sla-scheduler",
        partial(
            alerts.run_due,
            database=runtime.database,
            batch_size=settings.sla_batch_size,
            concurrency=settings.sla_concurrency,
        ),
        interval=settings.sla_poll_interval_seconds,
    )
    listener = (
        SmtpListener(
            runtime.database,
            flows.attachment_rules(settings),
            host=settings.smtp_listen_host,
            port=settings.smtp_listen_port,
            max_bytes=settings.inbound_email_max_bytes,
        )
        if settings.smtp_listen_host
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Before the broker starts: the consumers' queries rely on these indexes.
        await indexes.ensure_indexes(runtime.database)
        async with runtime.lifespan(app):
            relay.start()
            scheduler.start()
            if listener is not None:
                await listener.start()
            try:
                yield
            finally:
                if listener is not None:
                    await listener.stop()
                await scheduler.stop()
                await relay.stop(flush_seconds=settings.shutdown_drain_seconds / 2)

    # Base64 makes a file a third larger; a message carries several, and its text.
    message_bytes = (settings.attachment_max_bytes * 4 // 3 + 4) * MAX_ATTACHMENTS + 2**20
    app = create_http_app(
        settings,
        title="support-ticket",
        lifespan=lifespan,
        routers=[
            customers_router,
            tickets_router,
            sla_router,
            views_router,
            mail_router,
            webform_router,
        ],
        readiness=runtime.readiness,
        access=ACCESS,
        asyncapi=worker.asyncapi(settings),
        body_limits={
            "/v1/tickets": message_bytes,
            mail_router.prefix: settings.inbound_email_max_bytes,
        },
        public_routes=[webform_router.prefix],
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.relay = relay
    app.state.smtp_listener = listener
    return app


def run() -> None:
    serve(Settings(), create_app)
