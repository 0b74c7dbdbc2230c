from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from customer_profile.consents.schemas import ConsentLogRead, ConsentRead
from customer_profile.customers.models import CustomerOrder
from customer_profile.customers.schemas import CustomerRead


class OrderExport(BaseModel):
    order_id: str
    store_id: str
    external_id: str
    placed_at: datetime
    currency: str
    net_paid: Decimal
    cancelled: bool
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    accepts_marketing: bool
    attributed_at: datetime

    @classmethod
    def of(cls, row: CustomerOrder) -> "OrderExport":
        return cls.model_validate(row, from_attributes=True)


class MergedCustomerExport(BaseModel):
    """A customer merged into the exported one: what is left on it (its identities and orders
    moved to the survivor)."""

    profile: CustomerRead
    consents: list[ConsentRead]
    consent_log: list[ConsentLogRead]


class CustomerExport(BaseModel):
    """Everything customer-profile holds about one person (GDPR art. 15)."""

    customer_id: str
    exported_at: datetime
    profile: CustomerRead
    """Contact data, identities and order statistics."""
    orders: list[OrderExport]
    """Every order attributed to the customer, with the contact data it came with."""
    consents: list[ConsentRead]
    consent_log: list[ConsentLogRead]
    merged_customers: list[MergedCustomerExport]
    """Every customer merged into this one, directly or through others."""
    other: dict[str, list[dict[str, Any]]]
    """Every row of any other table that names the customer (merge log, timeline, ...), by
    table; amounts as decimal strings, times as RFC 3339."""


class ErasureRead(BaseModel):
    customer_id: str
    erased_at: datetime
    erased_ids: list[str]
    """The customer and every customer merged into it."""
    already_erased: bool
    """True when the customer had been erased before; nothing changed this time."""
