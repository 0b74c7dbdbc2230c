"""Lifecycle stage and value tier: pure functions of a customer's order statistics.

Both are computed when a profile is read, from `orders_count`, `first_order_at`,
`last_order_at`, `total_spent` and `currency`, so a stage is right on the day it changes
without a nightly job, and new thresholds apply at once.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from customer_profile.config import Settings

ANY_CURRENCY = "*"


class LifecycleStage(StrEnum):
    PROSPECT = "prospect"
    NEW = "new"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"
    CHURNED = "churned"


class ValueTier(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    """`new`: at most `new_max_orders` orders, the first within `new_days`; else by the time
    since the last order: `active` up to `active_days`, `at_risk` up to `at_risk_days`,
    `lapsed` up to `lapsed_days`, `churned` beyond. Every bound is inclusive."""

    new_days: int = 30
    new_max_orders: int = 1
    active_days: int = 90
    at_risk_days: int = 180
    lapsed_days: int = 365

    def __post_init__(self) -> None:
        if not self.new_days <= self.active_days <= self.at_risk_days <= self.lapsed_days:
            raise ValueError(
                "lifecycle thresholds must grow: new_days <= active_days <= at_risk_days "
                f"<= lapsed_days, not {self.new_days}, {self.active_days}, "
                f"{self.at_risk_days}, {self.lapsed_days}"
            )
        if self.new_max_orders < 1:
            raise ValueError("new_max_orders must be at least 1")

    def stage(
        self,
        *,
        orders_count: int,
        first_order_at: datetime | None,
        last_order_at: datetime | None,
        now: datetime,
    ) -> LifecycleStage:
        """The stage of a customer with these statistics (counted orders only) at `now`."""
        if orders_count < 1 or first_order_at is None or last_order_at is None:
            return LifecycleStage.PROSPECT
        if orders_count <= self.new_max_orders and now - first_order_at <= _days(self.new_days):
            return LifecycleStage.NEW
        since_last = now - last_order_at
        if since_last <= _days(self.active_days):
            return LifecycleStage.ACTIVE
        if since_last <= _days(self.at_risk_days):
            return LifecycleStage.AT_RISK
        if since_last <= _days(self.lapsed_days):
            return LifecycleStage.LAPSED
        return LifecycleStage.CHURNED


Thresholds = tuple[Decimal, Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class ValueTiers:
    """Per currency, the `total_spent` from which silver, gold and platinum start (inclusive);
    below silver is bronze. `*` stands for every currency not listed. A customer without a
    counted order, or whose currency has no thresholds, has no tier."""

    thresholds: Mapping[str, Thresholds] = field(
        default_factory=lambda: {ANY_CURRENCY: (Decimal(100), Decimal(500), Decimal(2000))}
    )

    def __post_init__(self) -> None:
        for currency, (silver, gold, platinum) in self.thresholds.items():
            if not Decimal(0) <= silver <= gold <= platinum:
                raise ValueError(
                    f"value tiers for {currency} must grow from 0: silver <= gold <= platinum"
                )

    def tier(
        self, *, orders_count: int, total_spent: Decimal, currency: str | None
    ) -> ValueTier | None:
        if orders_count < 1 or currency is None:
            return None
        found = self.thresholds.get(currency) or self.thresholds.get(ANY_CURRENCY)
        if found is None:
            return None
        silver, gold, platinum = found
        if total_spent >= platinum:
            return ValueTier.PLATINUM
        if total_spent >= gold:
            return ValueTier.GOLD
        if total_spent >= silver:
            return ValueTier.SILVER
        return ValueTier.BRONZE


@dataclass(frozen=True, slots=True)
class ScoringRules:
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    tiers: ValueTiers = field(default_factory=ValueTiers)

    @classmethod
    def from_settings(cls, settings: "Settings") -> Self:
        """The rules configured; thresholds that contradict each other fail here, at start."""
        return cls(
            lifecycle=LifecycleRules(
                new_days=settings.lifecycle_new_days,
                new_max_orders=settings.lifecycle_new_max_orders,
                active_days=settings.lifecycle_active_days,
                at_risk_days=settings.lifecycle_at_risk_days,
                lapsed_days=settings.lifecycle_lapsed_days,
            ),
            tiers=ValueTiers({code.upper(): t for code, t in settings.value_tiers.items()}),
        )


def _days(count: int) -> timedelta:
    return timedelta(days=count)
