"""The incremental RFM refresh of `repository.refresh` computed from orders already in hand, for
a batch of order events: it keeps the rows of the customers it touches and writes them once, at
its end. The same figures and scores as the SQL, row for row (`tests/customers/test_batch.py`
compares them on random streams)."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar


class CountedOrder(Protocol):
    """What RFM reads of an order (a `CustomerOrder`)."""

    @property
    def store_id(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def net_paid(self) -> Decimal: ...
    @property
    def placed_at(self) -> datetime: ...
    @property
    def cancelled(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Figures:
    """One `customer_rfm` row's values, as the refresh compares them."""

    currency: str
    orders_count: int
    monetary: Decimal
    last_order_at: datetime
    r_score: int | None
    f_score: int | None
    m_score: int | None


@dataclass(frozen=True, slots=True)
class Scored:
    figures: Figures
    scored_by: str
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class Boundaries:
    """Of one store and currency: where scores 2 to 5 start (None: no value scored that)."""

    recency: Sequence[datetime | None]
    frequency: Sequence[int | None]
    monetary: Sequence[Decimal | None]


_Value = TypeVar("_Value", datetime, int, Decimal)


@dataclass
class _Group:
    count: int
    spent: Decimal
    first_at: datetime
    last_at: datetime


def figures(
    orders: Iterable[CountedOrder], boundaries: Mapping[tuple[str, str], Boundaries]
) -> dict[str, Figures]:
    """Per store: the counted orders (not cancelled), the sum of net_paid in the currency of the
    first of them (ties: the smaller currency code), the last order's time, and the scores
    against the store's boundaries in that currency (None without boundaries)."""
    groups: dict[tuple[str, str], _Group] = {}
    for order in orders:
        if order.cancelled:
            continue
        group = groups.get((order.store_id, order.currency))
        if group is None:
            groups[(order.store_id, order.currency)] = _Group(
                1, order.net_paid, order.placed_at, order.placed_at
            )
            continue
        group.count += 1
        group.spent += order.net_paid
        group.first_at = min(group.first_at, order.placed_at)
        group.last_at = max(group.last_at, order.placed_at)
    stores: dict[str, list[tuple[str, _Group]]] = {}
    for (store_id, currency), group in groups.items():
        stores.setdefault(store_id, []).append((currency, group))
    found = {}
    for store_id, per_currency in stores.items():
        currency, first = min(per_currency, key=lambda item: (item[1].first_at, item[0]))
        count = sum(group.count for _, group in per_currency)
        last_at = max(group.last_at for _, group in per_currency)
        bounds = boundaries.get((store_id, currency))
        found[store_id] = Figures(
            currency=currency,
            orders_count=count,
            monetary=first.spent,
            last_order_at=last_at,
            r_score=_score(bounds.recency, last_at) if bounds else None,
            f_score=_score(bounds.frequency, count) if bounds else None,
            m_score=_score(bounds.monetary, first.spent) if bounds else None,
        )
    return found


def _score(starts: Sequence[_Value | None], value: _Value) -> int:
    # 1 plus the number of boundaries the value reaches, as the SQL's unnest count.
    return 1 + sum(1 for start in starts if start is not None and start <= value)
