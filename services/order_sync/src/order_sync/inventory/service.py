"""Stock levels: set by a count, moved by the order lifecycle, announced on crm.inventory.v1."""

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.outbox import add_event
from crm_events.inventory import StockChangeReason
from crm_events.order import OrderSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.inventory import repository
from order_sync.inventory.events import level_events, stock_id, topic_of
from order_sync.inventory.exceptions import InvalidStockRequest, StockLevelNotFound
from order_sync.inventory.models import StockLevel
from order_sync.inventory.rules import (
    SALE,
    Lines,
    Movement,
    OrderStock,
    crossed_low,
    due_movements,
    restock,
    restocked_lines,
    restocked_so_far,
    signed,
)
from order_sync.inventory.schemas import StockLevelRead, StockLevelSet, StockPage
from order_sync.stores.service import find_store

OrderChange = tuple[OrderSnapshot, Sequence[str]]
"""An order as stored after one change, and the lifecycle event types that change published."""


async def set_level(
    *, session: AsyncSession, store_id: str, sku: str, level_in: StockLevelSet
) -> StockLevel:
    """Set the quantity on hand (and the threshold, when given) of `sku` in `store_id`; from
    then on the SKU is tracked. Raises `InvalidStockRequest` for an unregistered store."""
    if await find_store(session=session, store_id=store_id) is None:
        raise InvalidStockRequest(
            "store_id",
            f"no store {store_id} is registered; register it first",
            type_="unknown_store",
        )
    now = datetime.now(UTC)
    keeps_threshold = "low_stock_threshold" not in level_in.model_fields_set
    level = await repository.lock(session=session, store_id=store_id, sku=sku)
    if level is None:
        new = StockLevel(
            store_id=store_id,
            sku=sku,
            quantity=level_in.quantity,
            low_stock_threshold=level_in.low_stock_threshold,
            version=1,
            updated_at=now,
        )
        if await repository.insert_new(session=session, level=new):
            _announce(session, new, before=None, reason=StockChangeReason.MANUAL, order_id=None)
            return new
        # A concurrent count of the same SKU stored it first; ours applies on top of it.
        level = await repository.lock(session=session, store_id=store_id, sku=sku)
        if level is None:
            raise RuntimeError(f"stock level {stock_id(store_id, sku)} vanished while being set")
    before = (level.quantity, level.low_stock_threshold)
    threshold = level.low_stock_threshold if keeps_threshold else level_in.low_stock_threshold
    if (level_in.quantity, threshold) == before:
        return level
    level.quantity, level.low_stock_threshold = level_in.quantity, threshold
    level.version += 1
    level.updated_at = now
    await repository.save_many(session=session, levels=[level])
    _announce(session, level, before=before, reason=StockChangeReason.MANUAL, order_id=None)
    return level


async def get_level(*, session: AsyncSession, store_id: str, sku: str) -> StockLevelRead:
    """The level of `sku` in `store_id`; raises `StockLevelNotFound`."""
    level = await repository.get(session=session, store_id=store_id, sku=sku)
    if level is None:
        raise StockLevelNotFound(store_id, sku)
    return read(level)


async def list_levels(
    *, session: AsyncSession, store_id: str, limit: int, cursor: str | None
) -> StockPage:
    """One page of a store's levels by SKU, after `cursor`; raises `InvalidStockRequest`."""
    after = _decode_cursor(cursor, store_id) if cursor else None
    # One row more than asked tells whether another page follows.
    rows = await repository.list_levels(
        session=session, store_id=store_id, after=after, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    return StockPage(
        levels=[read(level) for level in page],
        next_cursor=_encode_cursor(page[-1].sku, store_id) if more else None,
    )


def read(level: StockLevel) -> StockLevelRead:
    return StockLevelRead.of(
        store_id=level.store_id,
        sku=level.sku,
        quantity=level.quantity,
        low_stock_threshold=level.low_stock_threshold,
        version=level.version,
        updated_at=level.updated_at,
    )


async def apply_order_transition(
    *, session: AsyncSession, order: OrderSnapshot, events: Sequence[str]
) -> None:
    """Move the stock as one stored change of an order requires (see `apply_order_transitions`).

    Call it in the transaction that stores the change, while the order's row is locked."""
    await apply_order_transitions(session=session, changes=[(order, events)])


async def apply_order_transitions(*, session: AsyncSession, changes: Sequence[OrderChange]) -> None:
    """Move the stock as stored order changes require, in the order given, and stage the
    crm.inventory.v1 events each movement owes.

    A paid order takes its lines (per SKU; lines without one are ignored) from the levels that
    are tracked; each return received gives its lines back, and a cancel whatever the sale took
    that no return gave back, never more than the sale took. Each order gets each movement (the
    sale, each return, the cancel) at most once (`stock_movements`), however often its changes
    are replayed. The orders' rows must be locked by the caller's transaction.
    """
    orders = [OrderStock.of(order, order_id=order.order_id) for order, _ in changes]
    # A restock needs no lines of the current revision: it gives back what the sale recorded.
    orders = [o for o in orders if (o.lines and o.captured) or o.cancelled or o.restocks]
    if not orders:
        return
    # Movements are recorded in the transaction that stores a version, so an order stored for
    # the first time (version 1) has none: no need to look.
    seen_before = {order.order_id for order, _ in changes if order.version > 1}
    done = await repository.movements(
        session=session, order_ids={o.order_id for o in orders} & seen_before
    )
    plans: list[tuple[OrderStock, Movement]] = []
    keys: set[tuple[str, str]] = set()
    for order in orders:
        recorded = done.setdefault(order.order_id, {})
        due = due_movements(order, recorded)
        if not due:
            continue
        plans.extend((order, movement) for movement in due)
        # A restock moves SKUs of the sale, which may be of an earlier revision's lines.
        sold = recorded.get(SALE, order.lines)
        keys.update((order.store_id, sku) for sku, _ in (*order.lines, *sold))
        for movement in due:
            recorded[movement] = ()  # decided below, once the tracked levels are known
    if not plans:
        return
    levels = await repository.lock_many(session=session, keys=keys)
    now = datetime.now(UTC)
    movements: list[dict[str, Any]] = []
    touched: dict[tuple[str, str], StockLevel] = {}
    for order, movement in plans:
        recorded = done[order.order_id]
        applied = _applied(order, movement, recorded, tracked=levels)
        recorded[movement] = applied
        kind, ref = movement
        movements.append(
            {
                "order_id": order.order_id,
                "kind": kind.value,
                "ref": ref,
                "store_id": order.store_id,
                "lines": [[sku, qty] for sku, qty in applied],
                "created_at": now,
            }
        )
        for sku, delta in signed(kind, applied):
            level = levels[(order.store_id, sku)]
            before = (level.quantity, level.low_stock_threshold)
            level.quantity += delta
            level.version += 1
            level.updated_at = now
            touched[(level.store_id, level.sku)] = level
            _announce(
                session,
                level,
                before=before,
                reason=StockChangeReason(kind.value),
                order_id=order.order_id,
            )
    await repository.insert_movements(session=session, movements=movements)
    await repository.save_many(session=session, levels=list(touched.values()))


def _applied(
    order: OrderStock,
    movement: Movement,
    recorded: dict[Movement, Lines],
    *,
    tracked: Mapping[tuple[str, str], StockLevel],
) -> Lines:
    """The (sku, quantity) pairs `movement` moves."""
    if movement == SALE:
        # Only tracked SKUs move; the sale records what it took so that a restock (which may
        # come after the SKU started being tracked) gives back no more than that.
        return tuple((sku, qty) for sku, qty in order.lines if (order.store_id, sku) in tracked)
    sold = recorded.get(SALE, ())
    earlier = restocked_so_far({m: lines for m, lines in recorded.items() if m != movement})
    return restock(sold, earlier, restocked_lines(order, movement))


def _announce(
    session: AsyncSession,
    level: StockLevel,
    *,
    before: tuple[int, int | None] | None,
    reason: StockChangeReason,
    order_id: str | None,
) -> None:
    after = (level.quantity, level.low_stock_threshold)
    for event in level_events(
        level,
        previous=before[0] if before is not None else None,
        reason=reason,
        order_id=order_id,
        low=crossed_low(before, after),
        at=level.updated_at,
    ):
        add_event(
            session, topic=topic_of(session), key=stock_id(level.store_id, level.sku), event=event
        )


def _encode_cursor(sku: str, store_id: str) -> str:
    raw = json.dumps({"s": store_id, "k": sku}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, store_id: str) -> str:
    """The SKU after which the page starts; the cursor must have been issued for this store."""
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        sku, issued_for = document["k"], document["s"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise InvalidStockRequest("cursor", "not a cursor this API issued") from error
    if not isinstance(sku, str) or issued_for != store_id:
        raise InvalidStockRequest(
            "cursor", "it was issued for another store; start again without a cursor"
        )
    return sku
