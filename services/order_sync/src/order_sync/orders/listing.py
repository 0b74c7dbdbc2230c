"""Listing stored orders: filtered, newest first, in keyset pages behind an opaque cursor."""

import base64
import binascii
import hashlib
import json
from datetime import datetime

from crm_events.shop import CanonicalOrder
from sqlalchemy.ext.asyncio import AsyncSession

from order_sync.orders import repository
from order_sync.orders.events import snapshot
from order_sync.orders.exceptions import BadFilter, InvalidCursor
from order_sync.orders.records import read_model
from order_sync.orders.schemas import OrderFilters, OrderPage
from order_sync.stores import repository as stores


async def list_orders(
    *, session: AsyncSession, filters: OrderFilters, limit: int, cursor: str | None
) -> OrderPage:
    """One page of the orders matching `filters`, newest `placed_at` first (ties by order id),
    starting after `cursor`; raises `BadFilter` or `InvalidCursor`."""
    if filters.customer_external_id is not None and filters.store_id is None:
        raise BadFilter(
            "customer_external_id", "needs store_id: a customer id is only unique within a shop"
        )
    if filters.placed_from and filters.placed_to and filters.placed_to <= filters.placed_from:
        raise BadFilter("placed_to", "must be later than placed_from")
    after = decode_cursor(cursor, filters) if cursor else None
    # One row more than asked tells whether another page follows.
    rows = await repository.list_orders(
        session=session, filters=filters, after=after, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    countries = await stores.countries(session=session, store_ids={row.store_id for row in page})
    orders = [
        read_model(
            snapshot(
                CanonicalOrder.model_validate(row.body),
                order_id=row.order_id,
                version=row.version,
                store_country=countries.get(row.store_id),
            )
        )
        for row in page
    ]
    last = page[-1] if more else None
    return OrderPage(
        orders=orders,
        next_cursor=encode_cursor(last.placed_at, last.order_id, filters) if last else None,
    )


def encode_cursor(placed_at: datetime, order_id: str, filters: OrderFilters) -> str:
    """The position after (placed_at, order_id), bound to the filters it was issued for."""
    document = {"p": placed_at.isoformat(), "o": order_id, "f": _fingerprint(filters)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: OrderFilters) -> tuple[datetime, str]:
    """The keyset position in `cursor`; raises `InvalidCursor` when it is not one of ours or
    was issued for other filters (its position would mean nothing in another list)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
        placed_at = datetime.fromisoformat(document["p"])
        order_id = document["o"]
        fingerprint = document["f"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise InvalidCursor("not a cursor this API issued") from error
    if not isinstance(order_id, str) or placed_at.tzinfo is None:
        raise InvalidCursor("not a cursor this API issued")
    if fingerprint != _fingerprint(filters):
        raise InvalidCursor("it was issued for other filters; start again without a cursor")
    return placed_at, order_id


def _fingerprint(filters: OrderFilters) -> str:
    values = filters.model_dump(mode="json")
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = sorted(value)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
