"""The transition rules, over every pair of lifecycle states."""

import itertools
from datetime import UTC, datetime

import pytest
from crm_events.shop import FinancialStatus, FulfillmentStatus
from order_sync.orders.lifecycle import LifecycleState, OrderEventType, lifecycle_events

E = OrderEventType
F = FinancialStatus
S = FulfillmentStatus
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
LATER = datetime(2026, 11, 2, 12, tzinfo=UTC)

ALL_STATES = [
    LifecycleState(financial, fulfillment, cancelled)
    for financial, fulfillment, cancelled in itertools.product(F, S, (None, AT))
]


def state(
    financial: F = F.PENDING, fulfillment: S = S.UNFULFILLED, cancelled: datetime | None = None
) -> LifecycleState:
    return LifecycleState(financial, fulfillment, cancelled)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (state(), [E.PLACED]),
        (state(F.AUTHORIZED), [E.PLACED]),
        (state(F.PAID), [E.PLACED, E.PAID]),
        (state(F.PARTIALLY_REFUNDED), [E.PLACED, E.PARTIALLY_REFUNDED]),
        (state(F.REFUNDED), [E.PLACED, E.REFUNDED]),
        (state(F.VOIDED), [E.PLACED]),
        (state(fulfillment=S.PARTIAL), [E.PLACED]),
        (state(F.PAID, S.FULFILLED), [E.PLACED, E.PAID, E.FULFILLED]),
        (state(F.VOIDED, cancelled=AT), [E.PLACED, E.CANCELLED]),
        (
            state(F.REFUNDED, S.FULFILLED, AT),
            [E.PLACED, E.FULFILLED, E.CANCELLED, E.REFUNDED],
        ),
        (
            state(F.PARTIALLY_REFUNDED, S.FULFILLED),
            [E.PLACED, E.FULFILLED, E.PARTIALLY_REFUNDED],
        ),
    ],
)
def test_a_new_order_is_placed_plus_the_states_it_arrives_in(
    current: LifecycleState, expected: list[OrderEventType]
) -> None:
    assert lifecycle_events(None, current) == expected


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (state(), state(F.PAID), [E.PAID]),
        (state(F.AUTHORIZED), state(F.PAID), [E.PAID]),
        (state(F.VOIDED), state(F.PAID), [E.PAID]),
        (state(F.PAID), state(F.PAID, S.PARTIAL), [E.UPDATED]),
        (state(F.PAID, S.PARTIAL), state(F.PAID, S.FULFILLED), [E.FULFILLED]),
        (state(F.PAID), state(F.PARTIALLY_REFUNDED), [E.PARTIALLY_REFUNDED]),
        (state(F.PARTIALLY_REFUNDED), state(F.PARTIALLY_REFUNDED), [E.UPDATED]),
        (state(F.REFUNDED), state(F.PARTIALLY_REFUNDED), [E.PARTIALLY_REFUNDED]),
        (state(), state(F.PARTIALLY_REFUNDED), [E.PARTIALLY_REFUNDED]),
        (
            state(F.PAID, S.PARTIAL),
            state(F.PARTIALLY_REFUNDED, S.FULFILLED),
            [E.FULFILLED, E.PARTIALLY_REFUNDED],
        ),
        (state(F.PAID), state(F.REFUNDED), [E.REFUNDED]),
        (state(F.PARTIALLY_REFUNDED), state(F.REFUNDED), [E.REFUNDED]),
        (state(F.PARTIALLY_REFUNDED), state(F.PAID), [E.UPDATED]),
        (state(F.REFUNDED), state(F.PAID), [E.UPDATED]),
        (state(), state(F.REFUNDED), [E.REFUNDED]),
        (state(), state(F.VOIDED, cancelled=AT), [E.CANCELLED]),
        (state(F.PAID), state(F.REFUNDED, cancelled=AT), [E.CANCELLED, E.REFUNDED]),
        (state(cancelled=AT), state(cancelled=LATER), [E.UPDATED]),
        (state(cancelled=AT), state(), [E.UPDATED]),
        (state(F.PAID, S.FULFILLED), state(F.PAID, S.PARTIAL), [E.UPDATED]),
        (state(), state(F.PAID, S.FULFILLED), [E.PAID, E.FULFILLED]),
        (state(), state(F.PAID, S.FULFILLED, AT), [E.PAID, E.FULFILLED, E.CANCELLED]),
        (state(F.PAID), state(F.PAID), [E.UPDATED]),
    ],
)
def test_an_update_publishes_its_transitions_or_updated(
    previous: LifecycleState, current: LifecycleState, expected: list[OrderEventType]
) -> None:
    assert lifecycle_events(previous, current) == expected


@pytest.mark.parametrize("current", ALL_STATES, ids=str)
def test_every_new_order_is_placed_first_and_only_once(current: LifecycleState) -> None:
    events = lifecycle_events(None, current)

    assert events[0] is E.PLACED
    assert E.PLACED not in events[1:]
    assert E.UPDATED not in events
    assert (E.PAID in events) == (current.financial_status == F.PAID)
    assert (E.REFUNDED in events) == (current.financial_status == F.REFUNDED)
    assert (E.PARTIALLY_REFUNDED in events) == (current.financial_status == F.PARTIALLY_REFUNDED)
    assert (E.FULFILLED in events) == (current.fulfillment_status == S.FULFILLED)
    assert (E.CANCELLED in events) == (current.cancelled_at is not None)


PAIRS = list(itertools.product(ALL_STATES, ALL_STATES))


@pytest.mark.parametrize(("previous", "current"), PAIRS)
def test_every_update_is_one_event_per_transition_or_updated_alone(
    previous: LifecycleState, current: LifecycleState
) -> None:
    events = lifecycle_events(previous, current)

    paid = current.financial_status == F.PAID and previous.financial_status in {
        F.PENDING,
        F.AUTHORIZED,
        F.VOIDED,
    }
    refunded = current.financial_status == F.REFUNDED and previous.financial_status != F.REFUNDED
    partially_refunded = (
        current.financial_status == F.PARTIALLY_REFUNDED
        and previous.financial_status != F.PARTIALLY_REFUNDED
    )
    fulfilled = (
        current.fulfillment_status == S.FULFILLED and previous.fulfillment_status != S.FULFILLED
    )
    cancelled = current.cancelled_at is not None and previous.cancelled_at is None
    expected = [
        event
        for event, happened in [
            (E.PAID, paid),
            (E.FULFILLED, fulfilled),
            (E.CANCELLED, cancelled),
            (E.PARTIALLY_REFUNDED, partially_refunded),
            (E.REFUNDED, refunded),
        ]
        if happened
    ]
    assert events == (expected or [E.UPDATED])
    assert E.PLACED not in events
    assert len(events) == len(set(events))
