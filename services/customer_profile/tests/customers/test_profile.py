from datetime import UTC, datetime, timedelta
from decimal import Decimal

from customer_profile.customers.identities import order_identity_keys
from customer_profile.customers.ingest import is_stale, order_row
from customer_profile.customers.models import CustomerOrder
from customer_profile.customers.profile import Profile, compute_profile

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(
    order_id: str,
    *,
    days: int = 0,
    net_paid: str = "10.00",
    currency: str = "USD",
    cancelled: bool = False,
    first_name: str | None = "Ada",
    email: str | None = None,
    accepts_marketing: bool = False,
) -> CustomerOrder:
    return CustomerOrder(
        order_id=order_id,
        customer_id="c",
        store_id="s",
        external_id=order_id,
        placed_at=T0 + timedelta(days=days),
        currency=currency,
        net_paid=Decimal(net_paid),
        cancelled=cancelled,
        order_version=1,
        first_name=first_name,
        email=email,
        accepts_marketing=accepts_marketing,
        attributed_at=T0,
    )


def test_no_orders_give_empty_stats() -> None:
    assert compute_profile([]) == Profile()


def test_cancelled_orders_are_not_counted() -> None:
    profile = compute_profile(
        [
            row("o1", days=0, net_paid="10.00"),
            row("o2", days=1, net_paid="5.50"),
            row("o3", days=2, net_paid="100.00", cancelled=True),
        ]
    )
    assert profile.orders_count == 2
    assert profile.total_spent == Decimal("15.50")
    assert profile.first_order_at == T0
    assert profile.last_order_at == T0 + timedelta(days=1)


def test_only_cancelled_orders_leave_no_currency() -> None:
    profile = compute_profile([row("o1", cancelled=True)])
    assert (profile.orders_count, profile.total_spent, profile.currency) == (0, 0, None)
    assert profile.first_order_at is None


def test_currency_is_the_first_orders_and_others_are_not_summed() -> None:
    profile = compute_profile(
        [
            row("o2", days=1, net_paid="7.00", currency="EUR"),
            row("o1", days=0, net_paid="10.00", currency="USD"),
            row("o3", days=2, net_paid="2.25", currency="USD"),
        ]
    )
    assert profile.currency == "USD"
    assert profile.total_spent == Decimal("12.25")
    assert profile.orders_count == 3


def test_contact_data_come_from_the_newest_order_that_has_them() -> None:
    profile = compute_profile(
        [
            row("o1", days=0, first_name="Ada", email="old@example.com", accepts_marketing=True),
            row("o2", days=5, first_name="Augusta", email=None, accepts_marketing=False),
            row("o3", days=3, first_name="Countess", email="mid@example.com"),
        ]
    )
    assert profile.first_name == "Augusta"
    assert profile.email == "mid@example.com"
    assert profile.accepts_marketing is False


def _apply(rows: dict[str, CustomerOrder], snapshot) -> None:
    stored = rows.get(snapshot.order_id)
    if is_stale(stored, snapshot):
        return
    own = set(order_identity_keys(snapshot))
    rows[snapshot.order_id] = order_row(snapshot, customer_id="c", own=own, now=T0, stored=stored)


def test_refunds_reduce_and_cancellation_removes_and_older_snapshots_are_ignored(
    make_order,
) -> None:
    rows: dict[str, CustomerOrder] = {}
    first = {"order_id": "o1", "total": "40.00", "placed_at": T0}
    second = {"order_id": "o2", "total": "20.00", "placed_at": T0 + timedelta(days=1)}
    _apply(rows, make_order(**first, version=1))
    _apply(rows, make_order(**second, version=1))
    assert compute_profile(list(rows.values())).total_spent == Decimal("60.00")

    _apply(rows, make_order(**first, version=3, refunded_total="15.00"))
    profile = compute_profile(list(rows.values()))
    assert (profile.orders_count, profile.total_spent) == (2, Decimal("45.00"))

    # Version 2 arrives late; it must not undo the refund of version 3.
    _apply(rows, make_order(**first, version=2))
    assert compute_profile(list(rows.values())).total_spent == Decimal("45.00")

    _apply(rows, make_order(**second, version=2, cancelled_at=T0 + timedelta(days=2)))
    profile = compute_profile(list(rows.values()))
    assert (profile.orders_count, profile.total_spent) == (1, Decimal("25.00"))
    assert profile.last_order_at == T0


def test_full_refund_keeps_the_order_counted_at_zero(make_order) -> None:
    rows: dict[str, CustomerOrder] = {}
    _apply(rows, make_order(order_id="o1", total="40.00", version=1))
    _apply(
        rows,
        make_order(
            order_id="o1",
            total="40.00",
            refunded_total="40.00",
            financial_status="refunded",
            version=2,
        ),
    )
    profile = compute_profile(list(rows.values()))
    assert (profile.orders_count, profile.total_spent) == (1, Decimal("0.00"))
