"""A lifecycle stage as bounds on the customer's statistics, for searching without storing it.

The stage is computed when it is read (`scoring.rules.LifecycleRules.stage`); a search turns the
same rule, at one instant, into a union of branches, each a conjunction of plain bounds on
`orders_count`, `first_order_at` and `last_order_at`: conditions an index answers without
computing anything per row. `Branch.matches` evaluates a branch the way SQL does, so that the
translation can be checked against the rule itself.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from customer_profile.scoring.rules import LifecycleRules, LifecycleStage


@dataclass(frozen=True, slots=True)
class Branch:
    """Bounds that must all hold (None: no bound). Times: `from` inclusive, `before` exclusive;
    a bound on a missing (NULL) time never holds, as in SQL."""

    min_orders: int | None = None
    max_orders: int | None = None
    first_missing: bool = False
    last_missing: bool = False
    first_from: datetime | None = None
    first_before: datetime | None = None
    last_from: datetime | None = None
    last_before: datetime | None = None
    has_dates: bool = False
    """Both first_order_at and last_order_at are set."""

    def matches(
        self,
        *,
        orders_count: int,
        first_order_at: datetime | None,
        last_order_at: datetime | None,
    ) -> bool:
        checks = (
            self.min_orders is None or orders_count >= self.min_orders,
            self.max_orders is None or orders_count <= self.max_orders,
            not self.first_missing or first_order_at is None,
            not self.last_missing or last_order_at is None,
            not self.has_dates or (first_order_at is not None and last_order_at is not None),
            _at_or_after(first_order_at, self.first_from),
            _before(first_order_at, self.first_before),
            _at_or_after(last_order_at, self.last_from),
            _before(last_order_at, self.last_before),
        )
        return all(checks)


def _at_or_after(value: datetime | None, bound: datetime | None) -> bool:
    return bound is None or (value is not None and value >= bound)


def _before(value: datetime | None, bound: datetime | None) -> bool:
    return bound is None or (value is not None and value < bound)


def branches(stage: LifecycleStage, *, rules: LifecycleRules, now: datetime) -> tuple[Branch, ...]:
    """The customers in `stage` at `now` are those matching any of the branches."""
    if stage is LifecycleStage.PROSPECT:
        return (Branch(max_orders=0), Branch(first_missing=True), Branch(last_missing=True))
    new_since = now - timedelta(days=rules.new_days)
    if stage is LifecycleStage.NEW:
        return (
            Branch(
                min_orders=1, max_orders=rules.new_max_orders, has_dates=True, first_from=new_since
            ),
        )
    # Every other stage is "not new" and a window of time since the last order; "not new" is
    # more orders than a new customer has, or a first order before the new window.
    not_new = (
        Branch(min_orders=rules.new_max_orders + 1, has_dates=True),
        Branch(min_orders=1, has_dates=True, first_before=new_since),
    )
    windows: dict[LifecycleStage, tuple[int | None, int | None]] = {
        LifecycleStage.ACTIVE: (rules.active_days, None),
        LifecycleStage.AT_RISK: (rules.at_risk_days, rules.active_days),
        LifecycleStage.LAPSED: (rules.lapsed_days, rules.at_risk_days),
        LifecycleStage.CHURNED: (None, rules.lapsed_days),
    }
    within, beyond = windows[stage]
    last_from = now - timedelta(days=within) if within is not None else None
    last_before = now - timedelta(days=beyond) if beyond is not None else None
    return tuple(_with_window(branch, last_from, last_before) for branch in not_new)


def _with_window(
    branch: Branch, last_from: datetime | None, last_before: datetime | None
) -> Branch:
    return Branch(
        min_orders=branch.min_orders,
        has_dates=branch.has_dates,
        first_before=branch.first_before,
        last_from=last_from,
        last_before=last_before,
    )


def matches(
    found: Sequence[Branch],
    *,
    orders_count: int,
    first_order_at: datetime | None,
    last_order_at: datetime | None,
) -> bool:
    """Whether a customer with these statistics is among those `found` describe."""
    return any(
        branch.matches(
            orders_count=orders_count, first_order_at=first_order_at, last_order_at=last_order_at
        )
        for branch in found
    )
