"""Which `buyer_pairs` and `gap_months` rows answer a window's buyer figures.

Every counted order is a pair (x, y): the local day of its buyer's order before (x,
`-infinity` for a first order) and its own (y). In a window [a, b):
- `orders` are the pairs with y in it, `new_buyers` those with x `-infinity`;
- a buyer counts once, by its first order there (x before a), so `buyers` = orders less the
  pairs lying wholly inside (a <= x, y < b);
- `one_time_buyers` are the new buyers whose second order is not before b: new buyers less the
  second orders (pairs of a first and a second order) lying wholly inside;
- the days between orders are y - x of the pairs with y in it and x finite.
A window is read as whole months (the `mm` grain, and `gap_months`) and the days at its ends
by day (`dd`): its days outside those months are added, or, when fewer, the months' days
outside it are taken back out; the pairs from a day before the window's first whole month
into the months read are counted from the `dm` grain. So a window of any length reads about as
many rows as a month of days.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

DAY, WEEK, MONTH = "day", "week", "month"
GRANULARITIES = (DAY, WEEK, MONTH)

PAIR_BY_DAY = "day"
"""A day at an end of the window: its `dd` pairs (all it holds but the first order's x)."""
PAIRS_BY_MONTH = "months"
"""The whole months: their `mm` pairs and `gap_months`."""
PAIRS_FROM_DAY = "from_day"
"""A day before the whole months: its `dm` pairs into them (inside the window)."""


@dataclass(frozen=True, slots=True)
class BuyerCounts:
    buyers: int
    new_buyers: int
    one_time_buyers: int
    """New buyers with no second order before the window's end."""
    orders: int
    """Orders of identified buyers."""
    median_gap_days: int | None


NO_BUYERS = BuyerCounts(0, 0, 0, 0, None)


class Window(NamedTuple):
    store_id: str
    start: date
    end: date
    """Excluded."""


class Piece(NamedTuple):
    """Rows of `buyer_pairs` a window reads: by day, y = `y_from` and x from `x_from` counts
    inside; by months, y in [`y_from`, `y_to`) and x from `x_from` inside; from a day, x =
    `x_from` and y in [`y_from`, `y_to`)."""

    window: int
    store_id: str
    kind: str
    x_from: date
    y_from: date
    y_to: date
    sign: int
    """-1 for a day of the months read that lies outside the window: taken back out."""


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_of(day: date, granularity: str) -> tuple[date, date]:
    """The whole day, week (from Monday) or calendar month holding `day`, as [start, end)."""
    if granularity == DAY:
        return day, day + timedelta(days=1)
    if granularity == WEEK:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    return first_of_month(day), first_of_next_month(day)


def is_whole_period(start: date, end: date, granularity: str) -> bool:
    return period_of(start, granularity) == (start, end)


def _days(start: date, end: date) -> Iterable[date]:
    return (start + timedelta(days=n) for n in range((end - start).days))


def pieces(windows: Sequence[Window]) -> list[Piece]:
    """What each window (by its index) reads."""
    found: list[Piece] = []
    for index, (store_id, start, end) in enumerate(windows):
        months_from = start if start.day == 1 else first_of_next_month(start)
        plan = _cheapest_plan(start, end, months_from)
        if plan is None:
            found += [
                Piece(index, store_id, PAIR_BY_DAY, start, d, d, 1) for d in _days(start, end)
            ]
            continue
        low, high = plan
        found.append(Piece(index, store_id, PAIRS_BY_MONTH, months_from, low, high, 1))
        found += [
            Piece(index, store_id, PAIRS_FROM_DAY, d, low, high, 1)
            for d in _days(start, months_from)
        ]
        # The days of the window outside those months, and those of the months outside it.
        found += [
            Piece(index, store_id, PAIR_BY_DAY, start, d, d, 1)
            for d in (*_days(start, low), *_days(high, end))
        ]
        found += [
            Piece(index, store_id, PAIR_BY_DAY, start, d, d, -1)
            for d in (*_days(low, start), *_days(end, high))
        ]
    return found


def _cheapest_plan(start: date, end: date, months_from: date) -> tuple[date, date] | None:
    """The months [low, high) read whole that leave the fewest days to read at the ends
    (the window's days outside them, or theirs outside the window), or None when reading
    every day of the window is cheaper. Months cost about two days."""
    plans: list[tuple[int, date, date]] = [((end - start).days, date.min, date.min)]
    for low in {months_from, first_of_month(start)}:
        for high in {first_of_month(end), first_of_next_month(end - timedelta(days=1))}:
            if low < high:
                ends = abs((low - start).days) + abs((end - high).days)
                plans.append((ends + 2, low, high))
    _, low, high = min(plans)
    return None if low == date.min else (low, high)


def periods_of_days(days: Iterable[tuple[str, date]]) -> list[tuple[str, str, date, date]]:
    """The whole periods (store, granularity, start, end) holding each (store, day), once."""
    return sorted(
        {
            (store_id, granularity, *period_of(day, granularity))
            for store_id, day in days
            if date.min < day < date.max
            for granularity in GRANULARITIES
        }
    )
