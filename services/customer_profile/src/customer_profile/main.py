"""The customer-profile service: who each customer is, under which identities, what they bought."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from crm_common.http import create_http_app
from crm_common.runtime import PostgresRuntime
from crm_common.service import serve
from fastapi import FastAPI

from customer_profile import pii, worker
from customer_profile.access import ACCESS
from customer_profile.addresses.participant import AddressesFollowMerges
from customer_profile.attributes.api import router as attributes_router
from customer_profile.attributes.merging import AttributesFollowMerges
from customer_profile.bulk.api import IMPORT_PATH, MAX_IMPORT_BYTES
from customer_profile.bulk.api import router as bulk_router
from customer_profile.config import Settings
from customer_profile.consents.api import router as consents_router
from customer_profile.consents.participants import ConsentsFollowMerges
from customer_profile.customers.api import router as customers_router
from customer_profile.customers.participants import MergeParticipant
from customer_profile.customers.policy import IdentityPolicy
from customer_profile.merges.api import router as merges_router
from customer_profile.privacy.api import router as privacy_router
from customer_profile.privacy.participants import ErasureGuard
from customer_profile.scoring import nightly
from customer_profile.scoring.participant import ScoresFollowMerges
from customer_profile.scoring.rules import ScoringRules
from customer_profile.search.api import router as search_router
from customer_profile.search.indexing import NamesFollowMerges
from customer_profile.timeline.api import router as timeline_router
from customer_profile.timeline.participant import TimelineFollowsMerges

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # Before anything touches the store: without valid keys the service refuses to start
    # rather than write personal data in clear.
    keyring = pii.Keyring.from_settings(settings)
    pii.configure(keyring)
    runtime = PostgresRuntime(
        settings,
        topics=worker.topics(settings),
        migrations_dir=MIGRATIONS,
        outbox_sealer=pii.OutboxSealer(keyring),
    )
    policy = IdentityPolicy.from_settings(settings, participants=merge_participants())
    worker.register(runtime, settings, policy=policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            runtime.lifespan(app),
            nightly.running(
                runtime.sessions,
                enabled=settings.scoring_nightly,
                hour=settings.scoring_nightly_hour,
            ),
        ):
            yield

    app = create_http_app(
        settings,
        title="customer-profile",
        lifespan=lifespan,
        # privacy first: `/v1/customers/{id}:export` would also match `/v1/customers/{id}`.
        routers=[
            privacy_router,
            bulk_router,
            consents_router,
            search_router,
            customers_router,
            attributes_router,
            merges_router,
            timeline_router,
        ],
        readiness=runtime.readiness,
        access=ACCESS,
        asyncapi=worker.asyncapi(settings),
        body_limits={IMPORT_PATH: MAX_IMPORT_BYTES},
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.policy = policy
    app.state.scoring_rules = ScoringRules.from_settings(settings)
    return app


def merge_participants() -> tuple[MergeParticipant, ...]:
    """What moves with a merge and back with its undo besides identities and orders."""
    # The erasure guard goes first, so that nothing moves for an erased customer.
    return (
        ErasureGuard(),
        ConsentsFollowMerges(),
        TimelineFollowsMerges(),
        ScoresFollowMerges(),
        AttributesFollowMerges(),
        NamesFollowMerges(),
        AddressesFollowMerges(),
    )


def run() -> None:
    serve(Settings(), create_app)
