"""Storing many canonical orders at once (the batch API, imports) as if one at a time.

Each order is folded, in input order, onto the state the batch has left it in so far, with
`upsert_order`'s rules, so every item gets the outcome it would have had alone. Only each
order's end state is written, with one statement per kind of write for the whole batch.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_events.order import OrderSnapshot
from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.inventory import service as inventory
from order_sync.orders import repository
from order_sync.orders.events import EncodedEvents, order_id_for, publishable_events, snapshot
from order_sync.orders.lifecycle import LifecycleState, OrderEventType, lifecycle_events
from order_sync.orders.records import holds_records, store_records
from order_sync.orders.repository import StoredRevision
from order_sync.orders.rows import line_rows, order_row
from order_sync.orders.schemas import (
    BatchItemResult,
    BatchStatus,
    Channel,
    FieldError,
    UpsertStatus,
)
from order_sync.orders.service import UpsertOutcome, revision_time, same_content, stage_events
from order_sync.orders.validation import OrderProblem, Rejected, storage_problems, validate_order
from order_sync.stores import repository as stores

Outcome = UpsertOutcome | Rejected


@dataclass(frozen=True, slots=True)
class _Step:
    """A stored change of one item: the snapshot it made, its events and their bytes."""

    index: int
    data: OrderSnapshot
    events: list[OrderEventType]
    encoded: EncodedEvents


@dataclass(slots=True)
class _Fold:
    """One order: as stored (locked), then as the batch's items so far have left it."""

    order_id: str
    stored: StoredRevision | None
    body: dict[str, Any] | None
    version: int = 0
    updated_at: datetime | None = None
    created_at: datetime | None = None
    current: CanonicalOrder | None = None
    data: OrderSnapshot | None = None
    """The snapshot of the newest version, when the batch stored one."""
    advanced: bool = False
    channel: Channel | None = None
    """How the item that made the newest version arrived."""
    steps: list[_Step] = field(default_factory=list)
    outcomes: list[tuple[int, Outcome]] = field(default_factory=list)

    def previous(self) -> CanonicalOrder:
        # The stored body is parsed only when a newer revision has to be compared with it.
        if self.current is None:
            self.current = CanonicalOrder.model_validate(self.body)
        return self.current


async def upsert_orders(
    *,
    session: AsyncSession,
    orders: Sequence[CanonicalOrder],
    topic: str,
    channels: Sequence[Channel],
) -> list[Outcome]:
    """Store `orders` in the caller's transaction and stage the events they owe on `topic`;
    `channels[i]` is how `orders[i]` arrived, recorded with the change it stores.

    Returns one outcome per order, in input order: what storing it did, or why it was refused
    (an unregistered store, something the database cannot hold, or events too large to
    publish).
    """
    results: list[Outcome | None] = [None] * len(orders)
    countries = await stores.countries(
        session=session, store_ids={order.store_id for order in orders}
    )
    groups: dict[str, list[tuple[int, CanonicalOrder]]] = {}
    for index, order in enumerate(orders):
        if order.store_id not in countries:
            message = f"no store {order.store_id} is registered; register it first"
            results[index] = Rejected((OrderProblem(("store_id",), message),))
            continue
        problems = storage_problems(order)
        if problems:
            results[index] = Rejected(problems)
            continue
        order_id = order_id_for(order.store_id, order.external_id)
        groups.setdefault(order_id, []).append((index, order))
    now = datetime.now(UTC)

    async def fold(order_ids: list[str]) -> dict[str, _Fold]:
        locked = await repository.lock_revisions(session=session, order_ids=order_ids)
        # Bodies only of the orders that an item is newer than: the others stay unchanged.
        newer = [
            order_id
            for order_id, stored in locked.items()
            if any(revision_time(o) > stored.updated_at for _, o in groups[order_id])
        ]
        bodies = await repository.stored_bodies(session=session, order_ids=newer)
        return {
            order_id: _fold(
                _Fold(order_id, locked.get(order_id), bodies.get(order_id)),
                groups[order_id],
                channels,
                country=countries[groups[order_id][0][1].store_id],
                now=now,
            )
            for order_id in order_ids
        }

    folds = await fold(sorted(groups))
    # An order none of whose items could be stored is not inserted.
    new = [f for f in folds.values() if f.stored is None and f.data is not None]
    inserted = await repository.insert_order_rows(
        session=session, rows=[_row(f, now=now) for f in new]
    )
    lost = [f.order_id for f in new if f.order_id not in inserted]
    if lost:
        # Concurrent deliveries stored these first; apply ours on top of what they stored.
        folds.update(await fold(lost))
        if any(folds[order_id].stored is None for order_id in lost):
            raise RuntimeError("an order vanished while it was being stored")
    replaced = [f for f in folds.values() if f.stored is not None and f.data is not None]
    await repository.replace_order_rows(session=session, rows=[_row(f, now=now) for f in replaced])
    written = [f for f in new if f.order_id in inserted] + replaced
    await repository.replace_line_rows(
        session=session,
        order_ids=[f.order_id for f in replaced],
        lines=[line for f in written if f.data for line in line_rows(f.data)],
    )
    await store_records(
        session=session,
        replaced=[f.order_id for f in replaced if holds_records(f.body)],
        written=[f.data for f in written if f.data],
    )
    await repository.advance_many(
        session=session,
        changes=[
            (f.order_id, f.updated_at, f.current.model_dump(mode="json"))
            for f in folds.values()
            if f.advanced and f.data is None and f.updated_at and f.current
        ],
    )
    steps = sorted((step for f in folds.values() for step in f.steps), key=lambda s: s.index)
    for step in steps:
        stage_events(session, topic=topic, key=step.data.order_id, encoded=step.encoded)
    await inventory.apply_order_transitions(
        session=session, changes=[(step.data, step.events) for step in steps]
    )
    for f in folds.values():
        for index, outcome in f.outcomes:
            results[index] = outcome
    if any(result is None for result in results):
        raise RuntimeError("an order of the batch was left without an outcome")
    return [result for result in results if result is not None]


def _fold(
    f: _Fold,
    items: list[tuple[int, CanonicalOrder]],
    channels: Sequence[Channel],
    *,
    country: str | None,
    now: datetime,
) -> _Fold:
    """Apply `items` (all of one order, in input order) as `upsert_order` would, one by one."""
    if f.stored is not None:
        f.version, f.updated_at = f.stored.version, f.stored.updated_at
        f.created_at = f.stored.created_at
    for index, order in items:
        incoming_at = revision_time(order)
        if f.updated_at is None:
            events = lifecycle_events(None, LifecycleState.of(order))
            step = _step(f, index, order, version=1, events=events, country=country)
            if isinstance(step, Rejected):
                f.outcomes.append((index, step))
                continue
            f.data, f.channel = step.data, channels[index]
            f.steps.append(step)
            f.version, f.updated_at, f.created_at, f.current = 1, incoming_at, now, order
            created = UpsertOutcome(f.order_id, UpsertStatus.CREATED, 1, tuple(events))
            f.outcomes.append((index, created))
            continue
        if incoming_at <= f.updated_at:
            f.outcomes.append((index, UpsertOutcome(f.order_id, UpsertStatus.UNCHANGED, f.version)))
            continue
        previous = f.previous()
        if same_content(previous, order):
            # Only the shop's clock moved: nothing to announce, but the newer time is kept.
            f.current, f.updated_at, f.advanced = order, incoming_at, True
            f.outcomes.append((index, UpsertOutcome(f.order_id, UpsertStatus.UNCHANGED, f.version)))
            continue
        events = lifecycle_events(LifecycleState.of(previous), LifecycleState.of(order))
        step = _step(f, index, order, version=f.version + 1, events=events, country=country)
        if isinstance(step, Rejected):
            # Refused as it would be alone: the order stays as the items before left it.
            f.outcomes.append((index, step))
            continue
        f.data, f.channel = step.data, channels[index]
        f.steps.append(step)
        f.current, f.updated_at, f.version = order, incoming_at, f.version + 1
        f.outcomes.append(
            (index, UpsertOutcome(f.order_id, UpsertStatus.UPDATED, f.version, tuple(events)))
        )
    return f


def _step(
    f: _Fold,
    index: int,
    order: CanonicalOrder,
    *,
    version: int,
    events: list[OrderEventType],
    country: str | None,
) -> _Step | Rejected:
    data = snapshot(order, order_id=f.order_id, version=version, store_country=country)
    encoded = publishable_events(data, events)
    if isinstance(encoded, Rejected):
        return encoded
    return _Step(index, data, events, encoded)


def _row(f: _Fold, *, now: datetime) -> dict[str, Any]:
    """The `orders` row of the fold's end state: its newest version, at its newest time."""
    assert f.data is not None
    assert f.current is not None
    assert f.created_at is not None
    row = order_row(f.current, f.data, created_at=f.created_at, changed_at=now, channel=f.channel)
    # A later item may have moved only updated_at past the newest version's.
    row["updated_at"] = f.updated_at
    return row


async def submit_batch(
    *, session: AsyncSession, items: Sequence[Any], topic: str
) -> list[BatchItemResult]:
    """Validate each item on its own, store the valid ones, and record the refused ones of
    registered stores for their sync status; one result per item, in input order."""
    checked = [validate_order(item) for item in items]
    valid = {i: order for i, order in enumerate(checked) if isinstance(order, CanonicalOrder)}
    stored = await upsert_orders(
        session=session,
        orders=list(valid.values()),
        topic=topic,
        channels=[Channel.REST] * len(valid),
    )
    outcomes: list[Outcome] = [o for o in checked if isinstance(o, Rejected)]
    by_index = dict(zip(valid, stored, strict=True))
    refused = iter(outcomes)
    outcomes = [by_index[i] if i in by_index else next(refused) for i in range(len(items))]
    answers = [_result(index, items[index], outcome) for index, outcome in enumerate(outcomes)]
    await _record_rejections(session=session, items=items, answers=answers)
    return answers


def _result(index: int, item: Any, outcome: Outcome) -> BatchItemResult:
    if isinstance(outcome, Rejected):
        return BatchItemResult(
            index=index,
            external_id=_external_id(item),
            order_id=None,
            status=BatchStatus.REJECTED,
            errors=[FieldError(field=p.field, message=p.message) for p in outcome.problems],
        )
    return BatchItemResult(
        index=index,
        external_id=_external_id(item),
        order_id=outcome.order_id,
        status=BatchStatus(outcome.status.value),
    )


def _external_id(item: Any) -> str | None:
    # Exact digits for an int; a float has already lost them, so it names nothing.
    value = item.get("external_id") if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


async def _record_rejections(
    *, session: AsyncSession, items: Sequence[Any], answers: Sequence[BatchItemResult]
) -> None:
    rejected = [
        (item["store_id"], answer)
        for item, answer in zip(items, answers, strict=True)
        if answer.status is BatchStatus.REJECTED
        and isinstance(item, dict)
        and isinstance(item.get("store_id"), str)
    ]
    if not rejected:
        return
    registered = await stores.countries(
        session=session, store_ids={store_id for store_id, _ in rejected}
    )
    now = datetime.now(UTC)
    await repository.insert_rejections(
        session=session,
        rows=[
            {
                "store_id": store_id,
                "channel": Channel.REST.value,
                "external_id": answer.external_id,
                "errors": [e.model_dump() for e in answer.errors or []],
                "rejected_at": now,
            }
            for store_id, answer in rejected
            if store_id in registered
        ],
    )
