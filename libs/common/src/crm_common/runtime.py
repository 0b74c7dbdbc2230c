"""A service's resources, built when the app is created and started in its lifespan.

Every service has a broker and a refresher of its measured gauges (consumer lag, and for a
PostgreSQL service the outbox backlog); a PostgreSQL service also has an engine, migrations and an
outbox relay (with the service's outbox sealer, if it has one), a MongoDB service a client.
`lifespan` starts them in dependency order and stops them in reverse, so that on SIGTERM the
consumers finish and commit their batches and the relay publishes what they staged before the
producer closes; `readiness` names the checks `/health/ready` runs.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_common import db, mongo
from crm_common.http import ReadinessCheck
from crm_common.kafka import create_broker, ensure_topics
from crm_common.metrics import ConsumerLag, Probe, Refresher
from crm_common.outbox import OutboxRelay, PayloadSealer, seal_payloads
from crm_common.service import broker_ready
from crm_common.settings import BaseServiceSettings, MongoSettings, PostgresSettings


class Runtime:
    """The broker, and the topics this service publishes to or consumes from."""

    def __init__(self, settings: BaseServiceSettings, *, topics: Iterable[str]) -> None:
        self.settings = settings
        self.topics = tuple(topics)
        self.broker: KafkaBroker = create_broker(
            settings.kafka_bootstrap_servers,
            client_id=settings.service_name,
            drain_seconds=settings.shutdown_drain_seconds,
            security=settings.kafka_security(),
        )
        self.consumer_lag = ConsumerLag(self.broker)
        self.metrics: Refresher | None = None

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            self.topics,
            partitions=self.settings.kafka_topic_partitions,
            security=self.settings.kafka_security(),
        )
        await self.broker.start()
        self.metrics = Refresher(
            self.probes(), interval_seconds=self.settings.metrics_refresh_seconds
        )
        self.metrics.start()

    async def stop(self) -> None:
        # Consumers first: each finishes and commits the batch in hand (FastStream waits up to
        # the broker's graceful timeout), and what they stored is still handed over (`drain`)
        # before the producer closes.
        await asyncio.gather(*(subscriber.stop() for subscriber in self.broker.subscribers))
        await self.drain()
        if self.metrics is not None:
            await self.metrics.stop()
        self.consumer_lag.clear()
        await self.broker.stop()

    async def drain(self) -> None:
        """Publish what the service still owes the broker (nothing, without an outbox)."""

    def probes(self) -> list[Probe]:
        """What the refresher measures, once the broker (and the store) have started."""
        return [self.consumer_lag.refresh]

    def readiness(self, _: FastAPI) -> Mapping[str, ReadinessCheck]:
        return {"kafka": partial(broker_ready, self.broker)}


class PostgresRuntime(Runtime):
    def __init__(
        self,
        settings: PostgresSettings,
        *,
        topics: Iterable[str],
        migrations_dir: Path,
        outbox_sealer: PayloadSealer | None = None,
    ) -> None:
        super().__init__(settings, topics=topics)
        self.migrations_dir = migrations_dir
        self.engine: AsyncEngine = db.create_engine(
            settings.database_url, pool_size=settings.database_pool_size
        )
        self.sessions: async_sessionmaker[AsyncSession] = db.session_factory(self.engine)
        if outbox_sealer is not None:
            seal_payloads(self.sessions, outbox_sealer)
        self.relay = OutboxRelay(
            self.engine,
            self.broker,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_seconds,
            sealer=outbox_sealer,
            lanes=settings.outbox_relay_lanes,
        )

    async def start(self) -> None:
        await db.migrate(self.engine, self.migrations_dir)
        await super().start()
        self.relay.start()

    async def drain(self) -> None:
        await self.relay.stop(flush_seconds=self.settings.shutdown_drain_seconds / 2)

    async def stop(self) -> None:
        await super().stop()
        await self.engine.dispose()

    def probes(self) -> list[Probe]:
        return [*super().probes(), self.relay.measure_backlog]

    def readiness(self, app: FastAPI) -> Mapping[str, ReadinessCheck]:
        return {**super().readiness(app), "postgres": partial(db.ping, self.engine)}


class MongoRuntime(Runtime):
    def __init__(self, settings: MongoSettings, *, topics: Iterable[str]) -> None:
        super().__init__(settings, topics=topics)
        self.client: AsyncMongoClient[dict[str, Any]] = mongo.create_client(settings.mongodb_url)
        self.database: AsyncDatabase[dict[str, Any]] = self.client[settings.mongodb_database]

    async def start(self) -> None:
        await mongo.ping(self.client)
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.client.close()

    def readiness(self, app: FastAPI) -> Mapping[str, ReadinessCheck]:
        return {**super().readiness(app), "mongodb": partial(mongo.ping, self.client)}
