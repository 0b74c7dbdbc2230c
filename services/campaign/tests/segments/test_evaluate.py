"""The segment grammar and its evaluator, pure: each condition kind, windows sliding as time
passes, and the instant at which time alone could change a verdict."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from campaign.segments.definition import Condition, references
from campaign.segments.evaluate import Verdict, evaluate
from campaign.segments.state import CustomerState, Fact
from pydantic import TypeAdapter, ValidationError

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
GRAMMAR: TypeAdapter[Condition] = TypeAdapter(Condition)


def parse(definition: dict[str, Any]) -> Condition:
    return GRAMMAR.validate_python(definition)


def judge(
    definition: dict[str, Any], state: CustomerState, now: datetime = NOW, **kw: Any
) -> Verdict:
    return evaluate(parse(definition), state, now=now, **kw)


def orders(*days_ago: float, sku: str = "SKU-1", total: str = "10") -> list[Fact]:
    return [
        Fact("order_placed", NOW - timedelta(days=d), skus=(sku,), total=Decimal(total))
        for d in days_ago
    ]


PROFILE = {
    "email": "ann@example.com",
    "accepts_marketing": True,
    "tags": ["vip", "wholesale"],
    "stats": {"orders_count": 4, "total_spent": "250.00"},
    "traits": {"tier": "gold", "size": {"shoe": 38}},
    "consent": {"email": "granted", "sms": "withdrawn"},
}


@pytest.mark.parametrize(
    ("trait", "holds"),
    [
        ({"field": "tags", "op": "contains", "value": "vip"}, True),
        ({"field": "tags", "op": "contains", "value": "retail"}, False),
        ({"field": "traits.tier", "op": "eq", "value": "gold"}, True),
        ({"field": "traits.tier", "op": "in", "value": ["silver", "bronze"]}, False),
        ({"field": "traits.size.shoe", "op": "gte", "value": 38}, True),
        ({"field": "stats.total_spent", "op": "gt", "value": 200}, True),
        ({"field": "stats.orders_count", "op": "lt", "value": 4}, False),
        ({"field": "consent.email", "op": "eq", "value": "granted"}, True),
        ({"field": "consent.sms", "op": "eq", "value": "granted"}, False),
        ({"field": "accepts_marketing", "op": "eq", "value": True}, True),
        ({"field": "phone", "op": "exists"}, False),
        ({"field": "email", "op": "exists"}, True),
        ({"field": "traits.missing", "op": "ne", "value": "x"}, True),
        ({"field": "email", "op": "contains", "value": "@example.com"}, True),
    ],
)
def test_a_trait_compares_a_profile_field(trait: dict[str, Any], holds: bool) -> None:
    verdict = judge({"kind": "trait", **trait}, CustomerState("c1", PROFILE))
    assert verdict.holds is holds
    assert trait["field"] in verdict.detail
    assert verdict.next_change is None


def test_count_in_a_rolling_window_slides_with_time() -> None:
    three_plus = {"kind": "event", "name": "order_placed", "in_last": "P90D", "value": 3}
    state = CustomerState("c1", facts=orders(80, 40, 5, 200))

    now_verdict = judge(three_plus, state)
    assert now_verdict.holds
    # The order of 80 days ago is the first to leave the window.
    assert now_verdict.next_change == NOW - 80 * DAY + 90 * DAY
    later = judge(three_plus, state, now=now_verdict.next_change)
    assert not later.holds
    assert judge(three_plus, state, now=now_verdict.next_change - timedelta(seconds=1)).holds


def test_absence_holds_from_the_instant_the_span_has_passed() -> None:
    no_order = {
        "kind": "event",
        "name": "order_placed",
        "in_last": "P120D",
        "op": "eq",
        "value": 0,
    }
    state = CustomerState("c1", facts=orders(100))

    verdict = judge(no_order, state)
    assert not verdict.holds
    assert verdict.next_change == NOW + 20 * DAY
    assert judge(no_order, state, now=NOW + 20 * DAY).holds
    assert judge(no_order, CustomerState("c2")).holds


def test_sum_of_a_property_with_a_filter() -> None:
    spent = {
        "kind": "event",
        "name": "order_placed",
        "measure": "sum",
        "where": [{"property": "sku", "op": "in", "value": ["A", "B"]}],
        "op": "gte",
        "value": 50,
    }
    state = CustomerState(
        "c1",
        facts=[
            *orders(1, sku="A", total="30"),
            *orders(2, sku="B", total="25"),
            *orders(3, sku="C", total="900"),
        ],
    )
    verdict = judge(spent, state)
    assert verdict.holds
    assert "55" in verdict.detail
    assert not judge({**spent, "value": 56}, state).holds


def test_property_filter_ordered_a_sku() -> None:
    ordered_x = {
        "kind": "event",
        "name": "order_placed",
        "where": [{"property": "sku", "op": "eq", "value": "X"}],
        "value": 1,
    }
    assert judge(ordered_x, CustomerState("c1", facts=orders(3, sku="X"))).holds
    assert not judge(ordered_x, CustomerState("c1", facts=orders(3, sku="Y"))).holds


def test_first_and_last_time_measure_how_long_ago() -> None:
    lapsed = {
        "kind": "event",
        "name": "order_placed",
        "measure": "last_at",
        "op": "gte",
        "ago": "P30D",
    }
    loyal = {
        "kind": "event",
        "name": "order_placed",
        "measure": "first_at",
        "op": "gte",
        "ago": "P365D",
    }
    state = CustomerState("c1", facts=orders(400, 10))

    verdict = judge(lapsed, state)
    assert not verdict.holds
    assert verdict.next_change == NOW + 20 * DAY
    assert judge(lapsed, state, now=NOW + 20 * DAY).holds
    assert judge(loyal, state).holds
    assert not judge(lapsed, CustomerState("c2")).holds


VIEWED_CARTED_NOT_ORDERED = {
    "kind": "funnel",
    "steps": [
        {"name": "cart_updated"},
        {"name": "checkout_started"},
        {"name": "order_placed", "absent": True},
    ],
    "within": "PT1H",
    "same": "sku",
}


def step(name: str, minutes_ago: float, sku: str) -> Fact:
    return Fact(name, NOW - timedelta(minutes=minutes_ago), skus=(sku,))


def test_funnel_with_a_closing_absence_waits_for_its_time_to_run_out() -> None:
    state = CustomerState(
        "c1", facts=[step("cart_updated", 30, "P"), step("checkout_started", 20, "P")]
    )

    pending = judge(VIEWED_CARTED_NOT_ORDERED, state)
    assert not pending.holds
    assert pending.next_change == NOW + timedelta(minutes=30)
    assert judge(VIEWED_CARTED_NOT_ORDERED, state, now=pending.next_change).holds


def test_funnel_broken_by_the_absent_step_on_the_same_sku_only() -> None:
    base = [step("cart_updated", 90, "P"), step("checkout_started", 80, "P")]
    ordered_p = CustomerState("c1", facts=[*base, step("order_placed", 70, "P")])
    ordered_q = CustomerState("c1", facts=[*base, step("order_placed", 70, "Q")])

    assert not judge(VIEWED_CARTED_NOT_ORDERED, ordered_p).holds
    assert judge(VIEWED_CARTED_NOT_ORDERED, ordered_q).holds


def test_funnel_steps_must_come_in_order_within_the_span_and_on_one_sku() -> None:
    two_steps = {
        "kind": "funnel",
        "steps": [{"name": "cart_updated"}, {"name": "order_placed"}],
        "within": "PT1H",
        "same": "sku",
    }
    in_order = [step("cart_updated", 50, "P"), step("order_placed", 10, "P")]
    reversed_ = [step("order_placed", 50, "P"), step("cart_updated", 10, "P")]
    too_slow = [step("cart_updated", 150, "P"), step("order_placed", 10, "P")]
    other_sku = [step("cart_updated", 50, "P"), step("order_placed", 10, "Q")]

    assert judge(two_steps, CustomerState("c", facts=in_order)).holds
    assert not judge(two_steps, CustomerState("c", facts=reversed_)).holds
    assert not judge(two_steps, CustomerState("c", facts=too_slow)).holds
    assert not judge(two_steps, CustomerState("c", facts=other_sku)).holds
    assert judge({**two_steps, "same": None}, CustomerState("c", facts=other_sku)).holds


def test_funnel_in_last_lets_old_funnels_go() -> None:
    recent = {
        "kind": "funnel",
        "steps": [{"name": "cart_updated"}, {"name": "order_placed"}],
        "within": "P1D",
        "in_last": "P7D",
    }
    state = CustomerState("c", facts=[step("cart_updated", 60, "P"), step("order_placed", 30, "P")])

    verdict = judge(recent, state)
    assert verdict.holds
    assert verdict.next_change == NOW - timedelta(minutes=60) + 7 * DAY
    assert not judge(recent, state, now=verdict.next_change).holds


def test_and_or_not_combine_and_explain_each_child() -> None:
    definition = {
        "kind": "and",
        "conditions": [
            {"kind": "trait", "field": "tags", "op": "contains", "value": "vip"},
            {
                "kind": "or",
                "conditions": [
                    {"kind": "event", "name": "order_placed", "in_last": "P30D", "value": 1},
                    {
                        "kind": "not",
                        "condition": {
                            "kind": "trait",
                            "field": "consent.email",
                            "op": "eq",
                            "value": "granted",
                        },
                    },
                ],
            },
        ],
    }
    state = CustomerState("c1", PROFILE, orders(45))
    verdict = judge(definition, state)

    assert not verdict.holds
    assert [child.holds for child in verdict.children] == [True, False]
    inner = verdict.children[1]
    assert [child.kind for child in inner.children] == ["event", "not"]
    assert inner.children[1].children[0].holds
    assert "1 of 2" in verdict.detail
    assert verdict.next_change is None  # the order of 45 days ago has left its 30 days already
    assert judge(definition, CustomerState("c1", PROFILE, orders(10))).holds


def test_membership_of_another_segment_uses_its_definition() -> None:
    vip = parse({"kind": "trait", "field": "tags", "op": "contains", "value": "vip"})
    member_of = {"kind": "segment", "segment_id": "vips"}

    assert judge(member_of, CustomerState("c", PROFILE), segments={"vips": vip}).holds
    assert not judge(member_of, CustomerState("c", {"tags": []}), segments={"vips": vip}).holds
    assert not judge(member_of, CustomerState("c", PROFILE)).holds  # unknown segment
    loop = parse(member_of)
    assert not judge(member_of, CustomerState("c"), segments={"vips": loop}).holds
    nested = parse({"kind": "or", "conditions": [{"kind": "not", "condition": member_of}]})
    assert references(nested) == [(("conditions", 0, "condition", "segment_id"), "vips")]


def test_an_and_of_windows_changes_next_at_the_earliest_of_them() -> None:
    definition = {
        "kind": "and",
        "conditions": [
            {"kind": "event", "name": "order_placed", "in_last": "P10D", "value": 1},
            {"kind": "event", "name": "order_placed", "in_last": "P100D", "value": 1},
        ],
    }
    assert judge(definition, CustomerState("c", facts=orders(5))).next_change == NOW + 5 * DAY


@pytest.mark.parametrize(
    ("definition", "location"),
    [
        ({"kind": "trait", "field": "password", "op": "eq", "value": "x"}, ("trait", "field")),
        ({"kind": "trait", "field": "email", "op": "in", "value": "x"}, ("trait",)),
        ({"kind": "event", "name": "order_placed", "measure": "last_at", "value": 3}, ("event",)),
        ({"kind": "event", "name": "order_shipped", "value": 1}, ("event", "name")),
        ({"kind": "or", "conditions": []}, ("or", "conditions")),
        (
            {
                "kind": "and",
                "conditions": [
                    {"kind": "event", "name": "order_placed", "value": 1, "in_last": "soon"}
                ],
            },
            ("and", "conditions", 0, "event", "in_last"),
        ),
        (
            {
                "kind": "funnel",
                "within": "PT1H",
                "steps": [{"name": "order_placed", "absent": True}, {"name": "order_paid"}],
            },
            ("funnel",),
        ),
        ({"kind": "nand"}, ()),
    ],
)
def test_a_bad_definition_is_refused_at_its_location(
    definition: dict[str, Any], location: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as refused:
        parse(definition)
    assert location in {tuple(error["loc"]) for error in refused.value.errors()}


@pytest.mark.parametrize(
    ("sent", "written"),
    [
        ("P403DT441H501M673S", "P421DT17H32M13S"),  # never `P1Y56D...`: RFC 3339 has no such form
        ("PT1H", "PT1H0M0S"),
        ("P90D", "P90D"),
        ("PT5S", "PT0H0M5S"),
    ],
)
def test_a_window_is_written_back_as_an_rfc_3339_duration_in_days(sent: str, written: str) -> None:
    definition = {"kind": "event", "name": "order_placed", "value": 1, "in_last": sent}
    condition = parse(definition)
    assert GRAMMAR.dump_python(condition, mode="json")["in_last"] == written
    assert parse({**definition, "in_last": written}) == condition


def test_a_window_is_whole_seconds() -> None:
    with pytest.raises(ValidationError, match="whole number of seconds"):
        parse({"kind": "event", "name": "order_placed", "value": 1, "in_last": "PT1.5S"})
