"""A lifecycle stage as index-friendly bounds: the same answer as the rule, at every boundary."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from customer_profile.scoring.rules import LifecycleRules, LifecycleStage
from customer_profile.search import stages

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
RULES = LifecycleRules(new_days=30, new_max_orders=2, active_days=90, at_risk_days=180)


def _instants(rules: LifecycleRules) -> list[datetime | None]:
    """Every threshold, a tick either side of it, and no time at all."""
    found: list[datetime | None] = [None, NOW, NOW + TICK]
    for days in (rules.new_days, rules.active_days, rules.at_risk_days, rules.lapsed_days):
        edge = NOW - timedelta(days=days)
        found += [edge - TICK, edge, edge + TICK]
    found.append(NOW - timedelta(days=rules.lapsed_days * 3))
    return found


@pytest.mark.parametrize(
    "rules",
    [
        RULES,
        LifecycleRules(),
        LifecycleRules(new_days=0, new_max_orders=1, active_days=1, at_risk_days=1, lapsed_days=1),
        LifecycleRules(new_days=90, active_days=90, at_risk_days=90, lapsed_days=400),
    ],
)
def test_every_customer_is_in_exactly_the_stage_the_rule_gives(rules: LifecycleRules) -> None:
    """Any statistics (consistent or not), at and around every boundary."""
    by_stage = {stage: stages.branches(stage, rules=rules, now=NOW) for stage in LifecycleStage}
    counts = (0, 1, rules.new_max_orders, rules.new_max_orders + 1, 7)
    instants = _instants(rules)
    for count, first, last in itertools.product(counts, instants, instants):
        expected = rules.stage(
            orders_count=count, first_order_at=first, last_order_at=last, now=NOW
        )
        found = {
            stage
            for stage, branches in by_stage.items()
            if stages.matches(
                branches, orders_count=count, first_order_at=first, last_order_at=last
            )
        }
        assert found == {expected}, (count, first, last)


def test_active_is_bounded_by_the_last_order_and_excludes_new_customers() -> None:
    active = stages.branches(LifecycleStage.ACTIVE, rules=RULES, now=NOW)
    edge = NOW - timedelta(days=RULES.active_days)
    assert {branch.last_from for branch in active} == {edge}
    assert {branch.last_before for branch in active} == {None}
    # Not new: more orders than a new customer can have, or a first order before the window.
    assert {(b.min_orders, b.first_before) for b in active} == {
        (RULES.new_max_orders + 1, None),
        (1, NOW - timedelta(days=RULES.new_days)),
    }
    old = NOW - timedelta(days=40)
    assert stages.matches(active, orders_count=3, first_order_at=NOW, last_order_at=edge)
    assert not stages.matches(active, orders_count=3, first_order_at=old, last_order_at=edge - TICK)
    assert not stages.matches(active, orders_count=1, first_order_at=NOW, last_order_at=NOW)


def test_windows_are_inclusive_of_their_far_end_only() -> None:
    at_risk = stages.branches(LifecycleStage.AT_RISK, rules=RULES, now=NOW)
    assert {(b.last_from, b.last_before) for b in at_risk} == {
        (NOW - timedelta(days=RULES.at_risk_days), NOW - timedelta(days=RULES.active_days))
    }
    churned = stages.branches(LifecycleStage.CHURNED, rules=RULES, now=NOW)
    assert {(b.last_from, b.last_before) for b in churned} == {
        (None, NOW - timedelta(days=RULES.lapsed_days))
    }


def test_prospects_are_customers_without_a_counted_order() -> None:
    prospect = stages.branches(LifecycleStage.PROSPECT, rules=RULES, now=NOW)
    assert stages.matches(prospect, orders_count=0, first_order_at=None, last_order_at=None)
    assert not stages.matches(prospect, orders_count=1, first_order_at=NOW, last_order_at=NOW)
