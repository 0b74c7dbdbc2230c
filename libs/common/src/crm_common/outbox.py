"""The transactional outbox: events are written with the state change, then relayed to Kafka.

A service calls `add_event` inside the transaction that changes its state; the rows it stages
are inserted together when that transaction commits. The relay publishes committed rows in order
and deletes them once the broker has acknowledged every one. A crash at any point loses nothing:
unpublished rows stay, and a row published but not yet deleted is published again, which
consumers absorb by event id.

An event the producer will never send (larger than any record the broker takes) does not hold
back the ones behind it: the relay moves its row to `outbox_parked` with the reason, announces
it on `<topic>.dlq` (without the payload), counts it in `crm_outbox_parked_total`, and goes on.

A service whose events carry data that must not wait in clear (personal data) hands a
`PayloadSealer` to its sessions (`seal_payloads`) and to its relay: rows are stored sealed and
opened just before publishing, so consumers receive the bytes the service staged.
"""

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import orjson
from faststream.kafka import KafkaBroker
from opentelemetry.propagate import inject
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_only
from sqlmodel import Field, SQLModel

from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import dlq_topic
from crm_common.producer import UNPUBLISHABLE, RecordProducer

logger = logging.getLogger(__name__)

_RELAY_LOCK_ID = 7_354_022
_PENDING_FLAG = "crm_outbox_pending"
_STAGED = "crm_outbox_staged"
_SEALER = "crm_outbox_sealer"
_COPIED_COLUMNS = ("event_id", "topic", "key", "payload", "headers", "created_at")
# Counting the backlog scans the table: while the relay is behind, once a second is enough.
_BACKLOG_REFRESH_SECONDS = 1.0

OUTBOX_PUBLISHED = Counter(
    "crm_outbox_published_total", "Events relayed from the outbox to Kafka", ["topic"]
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Events committed but not yet relayed")
OUTBOX_FAILURES = Counter("crm_outbox_publish_failures_total", "Relay batches that failed")
OUTBOX_PARKED = Counter(
    "crm_outbox_parked_total",
    "Events the producer refused for good, moved to outbox_parked and their dead-letter topic",
    ["topic"],
)
OUTBOX_PARKED_ROWS = Gauge("crm_outbox_parked_events", "Events waiting in outbox_parked")
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_event_age_seconds",
    "Age of the oldest event committed but not yet relayed; 0 when the outbox is empty",
)


class PayloadSealer(Protocol):
    """Protects a service's outbox payloads while they wait in the table.

    `seal` gets each payload when its transaction commits; `open` gets each stored payload just
    before the relay publishes it and returns the bytes `seal` was given. `open` must also
    return unchanged a payload stored in clear, by a release that did not seal yet: those are
    CloudEvents JSON objects, starting with `{`, which a sealed payload must never start with.
    """

    def seal(self, payload: bytes) -> bytes: ...

    def open(self, stored: bytes) -> bytes: ...


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"

    seq: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    event_id: str = Field(index=True)
    topic: str
    key: str | None = None
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


class ParkedOutboxEvent(SQLModel, table=True):
    """An outbox row the producer refused for good, as it was stored (sealed, if it was), with
    why; its dead-letter record went to `<topic>.dlq`."""

    __tablename__ = "outbox_parked"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_id: str = Field(index=True)
    topic: str
    key: str | None = None
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    parked_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    reason: str


def seal_payloads(sessions: async_sessionmaker[AsyncSession], sealer: PayloadSealer) -> None:
    """Have every session `sessions` makes from now on store its outbox rows sealed."""
    # Carried in each session's `info` rather than registered process-wide: the outbox of a
    # session made elsewhere (another service's tests, a tool) is left as it was.
    sessions.configure(info={**sessions.kw.get("info", {}), _SEALER: sealer})


def add_event(
    session: AsyncSession, *, topic: str, key: str | None, event: CloudEvent[Any]
) -> None:
    """Stage `event` for publishing in the caller's transaction.

    The row is inserted when the transaction commits, with every other row staged in it, in one
    statement; a rollback discards it.
    """
    add_encoded_event(
        session, topic=topic, key=key, event_id=event.id, payload=to_json_bytes(event)
    )


def add_encoded_event(
    session: AsyncSession, *, topic: str, key: str | None, event_id: str, payload: bytes
) -> None:
    """`add_event` for an event already encoded (see `crm_common.envelope.encode_event`)."""
    # FastStream's consumers link a batch's span to each record's producer span only when the
    # record names a correlation id, so a trace can be followed through batch consumers.
    headers: dict[str, str] = {
        "content-type": "application/cloudevents+json",
        "correlation_id": event_id,
    }
    inject(headers)
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    # Plain rows rather than ORM objects: building and flushing one OutboxEvent costs more than
    # serialising the event, which matters to consumers that stage thousands per batch. Each
    # row remembers the (sub)transaction it was staged in, so that rolling back a savepoint
    # drops only the rows staged inside it.
    staged: list[tuple[SessionTransaction | None, dict[str, Any]]]
    staged = sync_session.info.setdefault(_STAGED, [])
    staged.append(
        (
            sync_session.get_nested_transaction() or sync_session.get_transaction(),
            {
                "event_id": event_id,
                "topic": topic,
                "key": key,
                "payload": payload,
                "headers": headers,
                "created_at": datetime.now(UTC),
            },
        )
    )
    sync_session.info[_PENDING_FLAG] = True


@event.listens_for(Session, "before_commit")
def _insert_staged(session: Session) -> None:
    staged = session.info.pop(_STAGED, None)
    if not staged:
        return
    rows = [row for _, row in staged]
    sealer: PayloadSealer | None = session.info.get(_SEALER)
    if sealer is not None:
        rows = [{**row, "payload": sealer.seal(row["payload"])} for row in rows]
    driver = session.connection().connection.driver_connection
    if isinstance(driver, asyncpg.Connection):
        # COPY: a consumer staging thousands of events per batch pays a few microseconds a
        # row instead of an INSERT's tens (see the performance notes). We run inside the
        # greenlet SQLAlchemy's asyncio layer drives, so awaiting here is allowed.
        await_only(
            driver.copy_records_to_table(
                OutboxEvent.__tablename__,
                columns=_COPIED_COLUMNS,
                records=[
                    [row[name] for name in _COPIED_COLUMNS[:-2]]
                    + [orjson.dumps(row["headers"]).decode(), row["created_at"]]
                    for row in rows
                ],
            )
        )
        return
    session.execute(insert(OutboxEvent.__table__), rows)  # type: ignore[attr-defined]


@event.listens_for(Session, "after_transaction_end")
def _discard_staged(session: Session, ended: SessionTransaction) -> None:
    # Every flush runs in a subtransaction of its own, which no staged row is tagged with (rows
    # belong to the transaction or a savepoint): passing those over keeps a transaction that
    # flushes often while staging many events linear rather than quadratic.
    if ended.parent is not None and not ended.nested:
        return
    # A commit (of the transaction or a savepoint) inserts every staged row first, so rows still
    # staged inside a transaction that ended were rolled back (or closed) with it.
    staged = session.info.get(_STAGED)
    if staged:
        staged[:] = [(tx, row) for tx, row in staged if not _inside(tx, ended)]
        if not staged:
            del session.info[_STAGED]


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    if ended.parent is None:
        return True
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


class OutboxRelay:
    """Publishes committed outbox rows in commit order, per lane; one relay at a time per lane
    across replicas.

    With one lane (the default) a single relay publishes everything. With `lanes` > 1 every row
    belongs to the lane its key hashes to, and the replicas' relays each take whichever lanes
    are free, so they publish side by side while each key's events stay in order (they share a
    lane). Every replica must be given the same number of lanes.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        broker: KafkaBroker,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        sealer: PayloadSealer | None = None,
        lanes: int = 1,
    ) -> None:
        if lanes < 1:
            raise ValueError("an outbox relay needs at least one lane")
        self._engine = engine
        self._producer = RecordProducer(broker)
        self._sealer = sealer
        self._lanes = lanes
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._backlog_counted_at = 0.0

    def start(self) -> None:
        # Wake the relay as soon as any session in this process commits outbox rows,
        # instead of waiting out the poll interval.
        event.listen(Session, "after_commit", self._after_commit)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, *, flush_seconds: float = 0.0) -> None:
        """Stop relaying; first, for up to `flush_seconds`, publish what is committed."""
        event.remove(Session, "after_commit", self._after_commit)
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), flush_seconds)
        # Cut short mid-batch, the rows stay and are published again by the next relay.
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING_FLAG, False):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                relayed = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                OUTBOX_FAILURES.inc()
                logger.exception("outbox relay batch failed; retrying")
                await asyncio.sleep(self._poll_interval)
                continue
            if self._stopping and relayed < self._batch_size:
                return
            if relayed < self._batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def relay_once(self) -> int:
        """Publish one batch of every lane no other relay holds; returns how many events went
        out."""
        if self._lanes == 1:
            return await self._relay_lane(None)
        relayed = 0
        for lane in range(self._lanes):
            relayed += await self._relay_lane(lane)
        if relayed:
            # Another relay may be publishing other lanes: only the table knows the backlog.
            # The oldest event's age is left to `measure_backlog` for the same reason.
            async with self._engine.connect() as connection:
                await self._count_backlog(connection, drained=False)
        return relayed

    async def _relay_lane(self, lane: int | None) -> int:
        """One batch of `lane` (None: the whole outbox, as the only relay)."""
        table = OutboxEvent.__table__  # type: ignore[attr-defined]
        query = select(
            table.c.seq,
            table.c.event_id,
            table.c.topic,
            table.c.key,
            table.c.payload,
            table.c.headers,
            table.c.created_at,
        )
        if lane is None:
            lock = text(f"SELECT pg_try_advisory_xact_lock({_RELAY_LOCK_ID})")
        else:
            lock = text(f"SELECT pg_try_advisory_xact_lock({_RELAY_LOCK_ID}, {int(lane)})")
            # hashtext is PostgreSQL's own string hash: the same key is in the same lane for
            # every replica; the remainder is taken before abs() so that no hash overflows it.
            lane_of = func.abs(func.hashtext(func.coalesce(table.c.key, "")) % self._lanes)
            query = query.where(lane_of == lane)
        async with self._engine.begin() as connection:
            if not await connection.scalar(lock):
                return 0
            rows = (
                await connection.execute(query.order_by(table.c.seq).limit(self._batch_size))
            ).all()
            alone = lane is None
            if not rows:
                if alone:
                    OUTBOX_BACKLOG.set(0)
                    OUTBOX_OLDEST_AGE.set(0)
                return 0
            if alone:
                # Set before publishing, so a batch the broker cannot take still shows its age.
                OUTBOX_OLDEST_AGE.set(_age_seconds(rows[0].created_at))
            if self._sealer is None:
                payloads = [row.payload for row in rows]
            else:
                # Every row opened before any is sent: a row that cannot be opened (its key
                # removed too soon) fails the batch without republishing the rows before it at
                # every retry.
                payloads = [self._sealer.open(row.payload) for row in rows]
            refused = await self._publish(rows, payloads)
            if refused:
                await self._park(connection, [(rows[i], payloads[i], refused[i]) for i in refused])
            await connection.execute(delete(table).where(table.c.seq.in_([r.seq for r in rows])))
            published = (row for index, row in enumerate(rows) if index not in refused)
            for topic, count in collections.Counter(row.topic for row in published).items():
                OUTBOX_PUBLISHED.labels(topic).inc(count)
            if alone:
                await self._count_backlog(connection, drained=len(rows) < self._batch_size)
            return len(rows)

    async def _publish(
        self, rows: Sequence[Any], payloads: Sequence[bytes]
    ) -> dict[int, Exception]:
        """Send every row, then await every acknowledgement; returns the rows the producer
        refused for good, by position, with why. Any other failure raises: the batch is tried
        again.
        """
        # The whole batch is queued before any acknowledgement is awaited: the producer
        # pipelines it, and per-key order holds because rows are queued in commit order.
        refused: dict[int, Exception] = {}
        acks: list[Awaitable[Any]] = []
        for index, (row, payload) in enumerate(zip(rows, payloads, strict=True)):
            try:
                acks.append(await self._send(row, payload))
            except UNPUBLISHABLE as error:
                refused[index] = error
        # Every acknowledgement awaited, so none fails unobserved when an earlier one raises.
        for outcome in await asyncio.gather(*acks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        return refused

    async def _send(self, row: Any, payload: bytes) -> Awaitable[Any]:
        # The row's headers already carry the trace context of the transaction that wrote it.
        return await self._producer.send(
            topic=row.topic,
            key=row.key.encode() if row.key is not None else None,
            value=payload,
            headers=row.headers,
        )

    async def _park(self, connection: Any, refused: Sequence[tuple[Any, bytes, Exception]]) -> None:
        """Move refused rows to `outbox_parked` and announce each on its dead-letter topic."""
        parked = []
        for row, payload, error in refused:
            reason = f"the producer refused the event: {type(error).__name__}: {error}"[:2000]
            await self._dead_letter(row, payload, reason)
            parked.append(
                {
                    "seq": row.seq,
                    "event_id": row.event_id,
                    "topic": row.topic,
                    "key": row.key,
                    "payload": row.payload,
                    "headers": row.headers,
                    "created_at": row.created_at,
                    "reason": reason,
                }
            )
            OUTBOX_PARKED.labels(row.topic).inc()
            logger.error(
                "outbox event parked",
                extra={"topic": row.topic, "event_id": row.event_id, "reason": reason},
            )
        await connection.execute(insert(ParkedOutboxEvent.__table__), parked)  # type: ignore[attr-defined]

    async def _dead_letter(self, row: Any, payload: bytes, reason: str) -> None:
        # Without the payload, which the producer just refused: it stays in outbox_parked.
        headers = {
            **row.headers,
            "x-dlq-reason": reason,
            "x-dlq-source-topic": row.topic,
            "x-dlq-event-id": row.event_id,
            "x-dlq-outbox-seq": str(row.seq),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
            "x-dlq-payload-omitted": f"{len(payload)} bytes, kept in outbox_parked",
        }
        await (
            await self._producer.send(
                topic=dlq_topic(row.topic),
                key=row.key.encode() if row.key is not None else None,
                value=b"",
                headers=headers,
            )
        )

    async def measure_backlog(self) -> None:
        """Set the backlog, the oldest event's age and the parked events from the tables,
        whoever relays.

        The relay keeps both current while it runs; this covers the replicas that do not hold
        the relay lock and a relay that cannot publish (run it periodically, e.g. from
        `crm_common.metrics.Refresher`). The oldest row is found through the primary key.
        """
        table = OutboxEvent.__table__  # type: ignore[attr-defined]
        parked_table = ParkedOutboxEvent.__table__  # type: ignore[attr-defined]
        async with self._engine.connect() as connection:
            oldest = await connection.scalar(
                select(table.c.created_at).order_by(table.c.seq).limit(1)
            )
            backlog = (
                await connection.scalar(select(func.count()).select_from(table))
                if oldest is not None
                else 0
            )
            parked = await connection.scalar(select(func.count()).select_from(parked_table))
        OUTBOX_BACKLOG.set(backlog or 0)
        OUTBOX_OLDEST_AGE.set(_age_seconds(oldest) if oldest is not None else 0)
        OUTBOX_PARKED_ROWS.set(parked or 0)

    async def _count_backlog(self, connection: Any, *, drained: bool) -> None:
        if drained:
            OUTBOX_BACKLOG.set(0)
            OUTBOX_OLDEST_AGE.set(0)
            return
        now = time.monotonic()
        if now - self._backlog_counted_at >= _BACKLOG_REFRESH_SECONDS:
            self._backlog_counted_at = now
            table = OutboxEvent.__table__  # type: ignore[attr-defined]
            backlog = await connection.scalar(select(func.count()).select_from(table))
            OUTBOX_BACKLOG.set(backlog or 0)


def _age_seconds(created_at: datetime) -> float:
    return max((datetime.now(UTC) - created_at).total_seconds(), 0.0)
