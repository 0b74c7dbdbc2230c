"""Lifecycle stage and value tier at the edges of their thresholds."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from customer_profile.config import Settings
from customer_profile.scoring.rules import (
    LifecycleRules,
    LifecycleStage,
    ScoringRules,
    ValueTier,
    ValueTiers,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
RULES = LifecycleRules()


def days(count: float) -> timedelta:
    return timedelta(days=count)


def stage(orders: int, first_ago: timedelta | None, last_ago: timedelta | None) -> LifecycleStage:
    return RULES.stage(
        orders_count=orders,
        first_order_at=None if first_ago is None else NOW - first_ago,
        last_order_at=None if last_ago is None else NOW - last_ago,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("orders", "first_ago", "last_ago", "expected"),
    [
        (0, None, None, LifecycleStage.PROSPECT),
        (1, days(0), days(0), LifecycleStage.NEW),
        (1, days(30), days(30), LifecycleStage.NEW),
        (1, days(30) + TICK, days(30) + TICK, LifecycleStage.ACTIVE),
        (2, days(5), days(1), LifecycleStage.ACTIVE),
        (3, days(400), days(90), LifecycleStage.ACTIVE),
        (3, days(400), days(90) + TICK, LifecycleStage.AT_RISK),
        (1, days(180), days(180), LifecycleStage.AT_RISK),
        (1, days(180) + TICK, days(180) + TICK, LifecycleStage.LAPSED),
        (5, days(900), days(365), LifecycleStage.LAPSED),
        (5, days(900), days(365) + TICK, LifecycleStage.CHURNED),
        (1, days(3000), days(3000), LifecycleStage.CHURNED),
    ],
)
def test_stages_change_exactly_at_their_thresholds(orders, first_ago, last_ago, expected) -> None:
    assert stage(orders, first_ago, last_ago) is expected


def test_an_order_dated_in_the_future_counts_as_recent() -> None:
    assert stage(1, -days(1), -days(1)) is LifecycleStage.NEW
    assert stage(2, -days(1), -days(1)) is LifecycleStage.ACTIVE


def test_new_may_allow_more_orders() -> None:
    rules = LifecycleRules(new_days=14, new_max_orders=2)
    first = NOW - days(14)
    assert rules.stage(orders_count=2, first_order_at=first, last_order_at=NOW, now=NOW) == "new"
    assert rules.stage(orders_count=3, first_order_at=first, last_order_at=NOW, now=NOW) == (
        "active"
    )


def test_thresholds_that_do_not_grow_are_refused() -> None:
    with pytest.raises(ValueError, match="must grow"):
        LifecycleRules(active_days=200, at_risk_days=180)
    with pytest.raises(ValueError, match="must grow"):
        ValueTiers({"USD": (Decimal(500), Decimal(100), Decimal(2000))})


@pytest.mark.parametrize(
    ("spent", "expected"),
    [
        ("0", ValueTier.BRONZE),
        ("99.99", ValueTier.BRONZE),
        ("100", ValueTier.SILVER),
        ("499.99", ValueTier.SILVER),
        ("500.00", ValueTier.GOLD),
        ("1999.99", ValueTier.GOLD),
        ("2000", ValueTier.PLATINUM),
    ],
)
def test_value_tiers_start_at_their_thresholds(spent, expected) -> None:
    tier = ValueTiers().tier(orders_count=1, total_spent=Decimal(spent), currency="USD")
    assert tier is expected


def test_value_tiers_are_per_currency_with_a_fallback() -> None:
    tiers = ValueTiers(
        {
            "JPY": (Decimal(10_000), Decimal(50_000), Decimal(200_000)),
            "*": (Decimal(100), Decimal(500), Decimal(2000)),
        }
    )
    assert tiers.tier(orders_count=1, total_spent=Decimal(5000), currency="JPY") == "bronze"
    assert tiers.tier(orders_count=1, total_spent=Decimal(5000), currency="EUR") == "platinum"
    only_yen = ValueTiers({"JPY": (Decimal(1), Decimal(2), Decimal(3))})
    assert only_yen.tier(orders_count=1, total_spent=Decimal(5000), currency="EUR") is None


def test_a_customer_without_orders_has_no_tier() -> None:
    assert ValueTiers().tier(orders_count=0, total_spent=Decimal(0), currency=None) is None
    assert ValueTiers().tier(orders_count=0, total_spent=Decimal(0), currency="USD") is None


def test_rules_come_from_settings(monkeypatch) -> None:
    monkeypatch.setenv("CUSTOMER_PROFILE_VALUE_TIERS", '{"jpy": ["1000", "5000", "20000"]}')
    monkeypatch.setenv("CUSTOMER_PROFILE_LIFECYCLE_ACTIVE_DAYS", "60")
    rules = ScoringRules.from_settings(Settings())
    assert rules.lifecycle.active_days == 60
    assert rules.tiers.thresholds == {"JPY": (Decimal(1000), Decimal(5000), Decimal(20000))}
    monkeypatch.setenv("CUSTOMER_PROFILE_LIFECYCLE_ACTIVE_DAYS", "400")
    with pytest.raises(ValueError, match="must grow"):
        ScoringRules.from_settings(Settings())
