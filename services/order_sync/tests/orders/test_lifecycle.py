"""The transition rules, over every pair of lifecycle states."""

import itertools
from datetime import UTC, datetime

import pytest
from crm_events.order_records import ShipmentStatus
from crm_events.shop import (
    CANONICAL_ORDER_EXAMPLE,
    CanonicalOrder,
    FinancialStatus,
    FulfillmentStatus,
)
from order_sync.orders.lifecycle import (
    LifecycleState,
    OrderEventType,
    ShipmentView,
    lifecycle_events,
)

E = OrderEventType
F = FinancialStatus
S = FulfillmentStatus
T = ShipmentStatus
V = ShipmentView
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


# --- Shipments, delivery and returns -----------------------------------------------------

IN_TRANSIT = V("a", T.IN_TRANSIT, "UPS", ("1Z1",))
SHIPMENTS = [
    frozenset(),
    frozenset({IN_TRANSIT}),
    frozenset({V("a", T.DELIVERED, "UPS", ("1Z1",))}),
    frozenset({V("a", T.IN_TRANSIT, "UPS", ("1Z2",))}),  # tracking changed
    frozenset({V("a", T.IN_TRANSIT, "DHL", ("1Z1",))}),  # carrier changed
    frozenset({V("a", T.CANCELLED, "UPS", ("1Z1",))}),
    frozenset({V("a", T.DELIVERED, "UPS", ("1Z1",)), V("b", T.IN_TRANSIT)}),
    frozenset({V("a", T.DELIVERED, "UPS", ("1Z1",)), V("b", T.CANCELLED)}),
]
RETURNS = [frozenset(), frozenset({"r-1"}), frozenset({"r-1", "r-2"}), frozenset({"r-2"})]
# Every fulfilment, shipment and return combination, paid or not (the financial and cancel
# dimensions are covered in full above; their rules do not read shipments or returns).
FULL_STATES = [
    LifecycleState(financial, fulfillment, None, shipments, returns)
    for financial, fulfillment, shipments, returns in itertools.product(
        (F.PENDING, F.PAID), S, SHIPMENTS, RETURNS
    )
]


def delivered(state: LifecycleState) -> bool:
    live = [v.status for v in state.shipments if v.status is not T.CANCELLED]
    return state.fulfillment_status is S.FULFILLED and bool(live) and set(live) == {T.DELIVERED}


def expected_events(previous: LifecycleState, current: LifecycleState) -> list[OrderEventType]:
    """The rules, restated one transition at a time."""
    before = {view.key: view for view in previous.shipments}
    happened = [
        (
            E.PAID,
            current.financial_status is F.PAID
            and previous.financial_status in {F.PENDING, F.AUTHORIZED, F.VOIDED},
        ),
        (
            E.FULFILLED,
            current.fulfillment_status is S.FULFILLED
            and previous.fulfillment_status is not S.FULFILLED,
        ),
        (
            E.SHIPMENT_UPDATED,
            any(before.get(view.key) != view for view in current.shipments),
        ),
        (E.DELIVERED, delivered(current) and not delivered(previous)),
        (E.CANCELLED, current.cancelled_at is not None and previous.cancelled_at is None),
        (
            E.PARTIALLY_REFUNDED,
            current.financial_status is F.PARTIALLY_REFUNDED
            and previous.financial_status is not F.PARTIALLY_REFUNDED,
        ),
        (
            E.REFUNDED,
            current.financial_status is F.REFUNDED and previous.financial_status is not F.REFUNDED,
        ),
        (E.RETURNED, bool(current.received_returns - previous.received_returns)),
    ]
    return [event for event, yes in happened if yes] or [E.UPDATED]


def test_every_pair_of_states_with_shipments_and_returns_owes_exactly_its_transitions() -> None:
    # Every ordered pair, so each change is also checked in the other direction.
    for previous, current in itertools.product(FULL_STATES, FULL_STATES):
        events = lifecycle_events(previous, current)
        assert events == expected_events(previous, current), (previous, current)
        assert len(events) == len(set(events))


@pytest.mark.parametrize("current", FULL_STATES, ids=str)
def test_a_new_order_announces_its_shipments_delivery_and_returns(
    current: LifecycleState,
) -> None:
    events = lifecycle_events(None, current)

    assert events[0] is E.PLACED
    assert (E.SHIPMENT_UPDATED in events) == bool(current.shipments)
    assert (E.DELIVERED in events) == delivered(current)
    assert (E.RETURNED in events) == bool(current.received_returns)
    assert E.UPDATED not in events


def test_a_state_changes_nothing_when_it_is_stored_again() -> None:
    for state in FULL_STATES:
        assert lifecycle_events(state, state) == [E.UPDATED]


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        # Shipped, in transit, delivered: two shipment updates, then the delivery.
        (state(F.PAID), state(F.PAID, S.FULFILLED), [E.FULFILLED]),
        (
            LifecycleState(F.PAID, S.FULFILLED, None),
            LifecycleState(F.PAID, S.FULFILLED, None, frozenset({IN_TRANSIT})),
            [E.SHIPMENT_UPDATED],
        ),
        (
            LifecycleState(F.PAID, S.FULFILLED, None, frozenset({IN_TRANSIT})),
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[2]),
            [E.SHIPMENT_UPDATED, E.DELIVERED],
        ),
        # Half the order delivered: no delivery until every line has shipped and arrived.
        (
            LifecycleState(F.PAID, S.PARTIAL, None, frozenset({IN_TRANSIT})),
            LifecycleState(F.PAID, S.PARTIAL, None, SHIPMENTS[2]),
            [E.SHIPMENT_UPDATED],
        ),
        (
            LifecycleState(F.PAID, S.PARTIAL, None, SHIPMENTS[2]),
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[6]),
            [E.FULFILLED, E.SHIPMENT_UPDATED],
        ),
        (
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[6]),
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[7]),
            [E.SHIPMENT_UPDATED, E.DELIVERED],
        ),
        # A shipment gone from a newer snapshot is a change, not a shipment update.
        (
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[6]),
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[2]),
            [E.DELIVERED],
        ),
        # A return received, refunded in the same change; then a second return.
        (
            LifecycleState(F.PAID, S.FULFILLED, None, SHIPMENTS[2]),
            LifecycleState(F.PARTIALLY_REFUNDED, S.FULFILLED, None, SHIPMENTS[2], RETURNS[1]),
            [E.PARTIALLY_REFUNDED, E.RETURNED],
        ),
        (
            LifecycleState(F.PARTIALLY_REFUNDED, S.FULFILLED, None, SHIPMENTS[2], RETURNS[1]),
            LifecycleState(F.REFUNDED, S.FULFILLED, None, SHIPMENTS[2], RETURNS[2]),
            [E.REFUNDED, E.RETURNED],
        ),
    ],
)
def test_a_shipment_travels_is_delivered_and_comes_back(
    previous: LifecycleState, current: LifecycleState, expected: list[OrderEventType]
) -> None:
    assert lifecycle_events(previous, current) == expected


def test_the_state_of_an_order_reads_its_shipments_and_received_returns() -> None:
    order = CanonicalOrder.model_validate(
        {
            **CANONICAL_ORDER_EXAMPLE,
            "fulfillment_status": "fulfilled",
            "shipments": [
                {
                    "external_id": "f-1",
                    "status": "delivered",
                    "carrier": "UPS",
                    "tracking_numbers": ["1Z1"],
                    "tracking_urls": ["https://ups.example/1Z1"],
                    "lines": [{"sku": "MUG-1", "quantity": 2}],
                },
                {"status": "cancelled"},
            ],
            "returns": [
                {"external_id": "r-1", "status": "closed"},
                {"external_id": "r-2", "status": "requested"},
                {"status": "received"},
            ],
        }
    )

    current = LifecycleState.of(order)

    assert current.shipments == {
        V("f-1", T.DELIVERED, "UPS", ("1Z1",), ("https://ups.example/1Z1",)),
        V("#1", T.CANCELLED),
    }
    assert current.received_returns == {"r-1", "#2"}
    assert current.delivered
