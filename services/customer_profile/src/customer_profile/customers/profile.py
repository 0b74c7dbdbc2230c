"""A customer's contact data and order statistics, derived from the orders attributed to them."""

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from customer_profile.customers.models import Customer


@dataclass(frozen=True, slots=True)
class Profile:
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    accepts_marketing: bool = False
    orders_count: int = 0
    total_spent: Decimal = Decimal("0")
    currency: str | None = None
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProfiledOrder(Protocol):
    """What a profile reads of an order (a `CustomerOrder`, or `repository.OrderFacts`)."""

    @property
    def order_id(self) -> str: ...
    @property
    def placed_at(self) -> datetime: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def currency(self) -> str: ...
    @property
    def net_paid(self) -> Decimal: ...
    @property
    def accepts_marketing(self) -> bool: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...


def compute_profile(orders: Sequence[ProfiledOrder]) -> Profile:
    """Contact data from the newest order that has each part; statistics over the orders that
    were not cancelled, summing only those in the currency of the first of them."""
    newest_first = sorted(orders, key=lambda o: (o.placed_at, o.order_id), reverse=True)
    counted = sorted(
        (o for o in orders if not o.cancelled), key=lambda o: (o.placed_at, o.order_id)
    )
    # Amounts in another currency cannot be added without an exchange rate we do not have.
    currency = counted[0].currency if counted else None
    total = sum((o.net_paid for o in counted if o.currency == currency), Decimal("0"))
    return Profile(
        email=_newest(o.email for o in newest_first),
        phone=_newest(o.phone for o in newest_first),
        first_name=_newest(o.first_name for o in newest_first),
        last_name=_newest(o.last_name for o in newest_first),
        accepts_marketing=newest_first[0].accepts_marketing if newest_first else False,
        orders_count=len(counted),
        total_spent=total,
        currency=currency,
        first_order_at=counted[0].placed_at if counted else None,
        last_order_at=counted[-1].placed_at if counted else None,
    )


def stored_profile(customer: Customer) -> Profile:
    """The profile as last stored on `customer`."""
    return Profile(
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
        accepts_marketing=customer.accepts_marketing,
        orders_count=customer.orders_count,
        total_spent=customer.total_spent,
        currency=customer.currency,
        first_order_at=customer.first_order_at,
        last_order_at=customer.last_order_at,
    )


def _newest(values: Iterable[str | None]) -> str | None:
    return next((value for value in values if value), None)
