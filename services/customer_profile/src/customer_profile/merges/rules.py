"""Which customer survives a merge and which value of each field it keeps, without a database.

- survivor: the older customer (`created_at`, then `customer_id`), for merges the resolution
  makes; an admin's manual merge names its survivor instead.
- contact fields (email, phone, first and last name): the most recent, i.e. the newest order
  of either customer that has one; when no order has it, the value of the customer updated most
  recently; a non-empty value always wins over an empty one.
- accepts_marketing: the newest order's, else the most recently updated customer's.
- created_at: the oldest of the two. Statistics (orders_count, total_spent, currency,
  first_order_at, last_order_at) are recomputed over the union of both customers' orders, so
  first_order_at is the oldest and last_order_at the newest.
- tags and consents: the union, through the merge participants (see `participants.py`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from customer_profile.customers.models import Customer
from customer_profile.customers.profile import Profile

CONTACT_FIELDS = ("email", "phone", "first_name", "last_name")
STATISTICS = ("orders_count", "total_spent", "currency", "first_order_at", "last_order_at")
SNAPSHOT_FIELDS = (
    *CONTACT_FIELDS,
    "accepts_marketing",
    *STATISTICS,
    "created_at",
    "updated_at",
    "version",
)


@dataclass(frozen=True, slots=True)
class Party:
    """A customer's own fields as they take part in a merge (or come back from a snapshot)."""

    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    accepts_marketing: bool
    created_at: datetime
    updated_at: datetime


def party(customer: Customer) -> Party:
    return Party(
        customer_id=customer.customer_id,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        last_name=customer.last_name,
        accepts_marketing=customer.accepts_marketing,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


def survivor_first(customers: Sequence[Customer]) -> list[Customer]:
    """`customers` oldest first: the first one survives an automatic merge of them all."""
    return sorted(customers, key=lambda c: (c.created_at, c.customer_id))


def survive(parties: Sequence[Party], orders: Profile, *, has_orders: bool) -> dict[str, Any]:
    """The fields of the customer that `parties` become, given the profile of all their orders.

    With one party it is the restore rule of an undo: the snapshot fills what the orders lack.
    """
    if not parties:
        raise ValueError("a merge needs at least one party")
    newest_first = sorted(parties, key=lambda p: (p.updated_at, p.customer_id), reverse=True)
    values: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        from_orders = getattr(orders, name)
        values[name] = from_orders or next(
            (getattr(p, name) for p in newest_first if getattr(p, name)), None
        )
    values["accepts_marketing"] = (
        orders.accepts_marketing if has_orders else newest_first[0].accepts_marketing
    )
    values["created_at"] = min(p.created_at for p in parties)
    for name in STATISTICS:
        values[name] = getattr(orders, name)
    return values


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {"before": ..., "after": ...}}` for every field whose value differs."""
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in after
        if before.get(name) != after.get(name)
    }


def to_snapshot(customer: Customer) -> dict[str, Any]:
    """The customer's fields as JSON values (money as a string, times in ISO 8601)."""
    out: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(customer, name)
        if isinstance(value, Decimal):
            value = format(value, "f")
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def from_snapshot(snapshot: Mapping[str, Any], customer_id: str) -> Party:
    """The party a snapshot taken by `to_snapshot` describes."""
    values = {name: snapshot.get(name) for name in (*CONTACT_FIELDS, "accepts_marketing")}
    return Party(
        customer_id=customer_id,
        email=values["email"],
        phone=values["phone"],
        first_name=values["first_name"],
        last_name=values["last_name"],
        accepts_marketing=bool(values["accepts_marketing"]),
        created_at=datetime.fromisoformat(snapshot["created_at"]),
        updated_at=datetime.fromisoformat(snapshot["updated_at"]),
    )
