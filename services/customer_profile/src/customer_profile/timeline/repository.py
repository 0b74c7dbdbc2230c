from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.timeline.entries import Draft
from customer_profile.timeline.models import PendingActivity, TimelineEntry, TimelineMove

_entries = SQLModel.metadata.tables["timeline_entries"]
_moves = SQLModel.metadata.tables["timeline_moves"]
_pending = SQLModel.metadata.tables["timeline_pending"]
_customers = SQLModel.metadata.tables["customers"]
_orders = SQLModel.metadata.tables["customer_orders"]
_processed = SQLModel.metadata.tables["processed_events"]
_REGISTERED = (PendingActivity, TimelineEntry, TimelineMove)


_ADD_ENTRIES = (
    pg_insert(_entries)
    .on_conflict_do_nothing(index_elements=["source_key"])
    .returning(_entries.c.entry_id)
)


def entry_row(draft: Draft, *, customer_id: str, now: datetime) -> dict[str, Any]:
    return {
        "source_key": draft.source_key,
        "customer_id": customer_id,
        "occurred_at": draft.occurred_at,
        "kind": draft.kind,
        "source": draft.source,
        "order_id": draft.order_id,
        "reference": draft.reference,
        "summary": draft.summary,
        "source_event_id": draft.source_event_id,
        "recorded_at": now,
    }


async def add_entries(
    *, session: AsyncSession, entries: Sequence[tuple[str, Draft]], now: datetime
) -> int:
    """Store each (customer_id, draft) whose source key is new; returns how many were."""
    if not entries:
        return 0
    return await add_entry_rows(
        session=session,
        rows=[entry_row(draft, customer_id=owner, now=now) for owner, draft in entries],
    )


async def add_entry_rows(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Store each `entry_row` whose source key is new; returns how many were."""
    if not rows:
        return 0
    # Parameters apart from the statement, so that it compiles once (SQLAlchemy still sends the
    # rows as one multi-row INSERT).
    result = await session.execute(_ADD_ENTRIES, list(rows))
    return len(result.all())


async def add_pending(
    *, session: AsyncSession, pending: Sequence[tuple[list[str], Draft, datetime]], now: datetime
) -> None:
    """Park each (identity digests, draft, expiry) until one of the identities links to a
    customer; activity already parked stays as it is."""
    if not pending:
        return
    rows = [
        {
            "source_key": draft.source_key,
            "identity_digests": digests,
            "occurred_at": draft.occurred_at,
            "kind": draft.kind,
            "source": draft.source,
            "reference": draft.reference,
            "summary": draft.summary,
            "source_event_id": draft.source_event_id,
            "received_at": now,
            "expires_at": expires_at,
        }
        for digests, draft, expires_at in pending
    ]
    await session.execute(pg_insert(_pending).values(rows).on_conflict_do_nothing())


async def take_pending(
    *, session: AsyncSession, digests: Sequence[str], now: datetime
) -> list[Draft]:
    """Remove and return the unexpired pending activity naming any of `digests`."""
    if not digests:
        return []
    rows = await session.execute(
        delete(_pending)
        .where(_pending.c.identity_digests.overlap(list(digests)), _pending.c.expires_at > now)
        .returning(*_pending.c)
    )
    return [
        Draft(
            source_key=row.source_key,
            occurred_at=row.occurred_at,
            kind=row.kind,
            source=row.source,
            reference=row.reference,
            summary=row.summary,
            source_event_id=row.source_event_id,
        )
        for row in rows
    ]


async def pending_naming(*, session: AsyncSession, digests: Sequence[str]) -> set[str]:
    """Those of `digests` that pending activity names, expired or not (the nightly job drops
    what expired)."""
    if not digests:
        return set()
    named = func.unnest(_pending.c.identity_digests)
    rows = await session.execute(
        select(named).where(_pending.c.identity_digests.overlap(list(digests)))
    )
    return set(rows.scalars()) & set(digests)


async def extend_pending(*, session: AsyncSession, having: str, add: Sequence[str]) -> int:
    """Let the pending activity naming digest `having` wait under `add` as well; returns how
    many rows."""
    result = await session.execute(
        update(_pending)
        .where(
            _pending.c.identity_digests.overlap([having]),
            ~_pending.c.identity_digests.contains(list(add)),
        )
        .values(identity_digests=_pending.c.identity_digests.concat(list(add)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_pending(*, session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(_pending).where(_pending.c.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_pending_naming(*, session: AsyncSession, digests: Sequence[str]) -> None:
    if digests:
        await session.execute(
            delete(_pending).where(_pending.c.identity_digests.overlap(list(digests)))
        )


async def page(
    *,
    session: AsyncSession,
    customer_id: str,
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[TimelineEntry]:
    """Up to `limit` entries of the customer, newest first, strictly after `before` in that
    order (keyset on (occurred_at, entry_id): stable while new entries arrive)."""
    query = select(TimelineEntry).where(_entries.c.customer_id == customer_id)
    if before is not None:
        query = query.where(tuple_(_entries.c.occurred_at, _entries.c.entry_id) < tuple_(*before))
    rows = await session.execute(
        query.order_by(_entries.c.occurred_at.desc(), _entries.c.entry_id.desc()).limit(limit)
    )
    return list(rows.scalars())


async def repoint(
    *, session: AsyncSession, from_customer: str, to_customer: str, merge_id: str | None = None
) -> int:
    """Move every entry of `from_customer` to `to_customer`; with `merge_id`, remember which
    moved so that an undo of that merge can move them back. Returns how many moved."""
    if merge_id is not None:
        await session.execute(
            pg_insert(_moves)
            .from_select(
                ["merge_id", "entry_id"],
                select(literal(merge_id), _entries.c.entry_id).where(
                    _entries.c.customer_id == from_customer
                ),
            )
            .on_conflict_do_nothing()
        )
    result = await session.execute(
        update(_entries)
        .where(_entries.c.customer_id == from_customer)
        .values(customer_id=to_customer)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def move_back(
    *, session: AsyncSession, merge_id: str, survivor_id: str, merged_id: str
) -> int:
    """Undo `merge_id`: the entries it moved, and those of the orders now back with
    `merged_id`, go from `survivor_id` back to `merged_id`."""
    moved = select(_moves.c.entry_id).where(_moves.c.merge_id == merge_id)
    orders = select(_orders.c.order_id).where(_orders.c.customer_id == merged_id)
    result = await session.execute(
        update(_entries)
        .where(
            _entries.c.customer_id == survivor_id,
            _entries.c.entry_id.in_(moved) | _entries.c.order_id.in_(orders),
        )
        .values(customer_id=merged_id)
    )
    await session.execute(delete(_moves).where(_moves.c.merge_id == merge_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_entries(*, session: AsyncSession, customer_ids: Sequence[str]) -> int:
    """Every entry of `customer_ids` (their merge moves go with them)."""
    if not customer_ids:
        return 0
    result = await session.execute(
        delete(_entries).where(_entries.c.customer_id.in_(list(customer_ids)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def merged_into(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> dict[str, str | None]:
    """For each of `customer_ids` that exists, the customer it is merged into (None: none)."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(_customers.c.customer_id, _customers.c.merged_into).where(
            _customers.c.customer_id.in_(list(customer_ids))
        )
    )
    return {row.customer_id: row.merged_into for row in rows}


async def first_deliveries(
    *, session: AsyncSession, consumer: str, event_ids: Sequence[str], now: datetime
) -> set[str]:
    """Claim `event_ids` for `consumer` in one statement (crm_common's processed_events);
    returns those not applied before."""
    if not event_ids:
        return set()
    claimed = await session.execute(
        pg_insert(_processed)
        .values([{"consumer": consumer, "event_id": e, "processed_at": now} for e in event_ids])
        .on_conflict_do_nothing()
        .returning(_processed.c.event_id)
    )
    return set(claimed.scalars())
