"""The canonical shop order: what every shop connector produces on `shop.orders.v1`.

Shops send their own ids and contact details as they have them; order-sync gives the order our id
and customer-profile decides who the customer is. Unknown fields are kept, so a connector can
pass platform extras through without a contract change.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from crm_common.contracts import EventContract
from pydantic import ConfigDict, Field, model_validator

from crm_events._base import ContractModel
from crm_events.order_records import Payment, Refund, Return, Shipment, refunded_amount
from crm_events.topics import SHOP_ORDERS
from crm_events.types import (
    Currency,
    ExternalId,
    Money,
    NonEmptyStr,
    OptionalCountry,
    OptionalText,
    UtcDatetime,
)

__all__ = [
    "CANONICAL_ORDER_EXAMPLE",
    "ORDER_UPSERTED",
    "Address",
    "CanonicalOrder",
    "FinancialStatus",
    "FulfillmentStatus",
    "OrderLine",
    "ShopCustomer",
]

ZERO = Decimal("0")


class FinancialStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIAL = "partial"
    FULFILLED = "fulfilled"


# Statuses in which the customer's money was captured (some of it may have been refunded since).
_CAPTURED = frozenset(
    {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED}
)


class Address(ContractModel):
    """A postal address as the shop sent it; every part is optional."""

    name: OptionalText = None
    line1: OptionalText = None
    line2: OptionalText = None
    city: OptionalText = None
    region: OptionalText = None
    """State, province or county."""
    postal_code: OptionalText = None
    country: OptionalCountry = None
    """ISO 3166-1 alpha-2 code, such as `US`."""


class ShopCustomer(ContractModel):
    """The buyer as the shop knows them; at least one of email, phone or external_id is set."""

    model_config = ConfigDict(
        # The validator's rule, for consumers that only read the JSON Schema.
        json_schema_extra={
            "if": {
                "properties": {name: {"type": "null"} for name in ("email", "phone", "external_id")}
            },
            "then": False,
        }
    )

    external_id: ExternalId | None = None
    """The shop's own customer id."""
    email: OptionalText = None
    """Raw, as the shop sent it; customer-profile normalises it."""
    phone: OptionalText = None
    """Raw, as the shop sent it; customer-profile normalises it to E.164."""
    first_name: OptionalText = None
    last_name: OptionalText = None
    accepts_marketing: bool = False

    @model_validator(mode="after")
    def _identifiable(self) -> Self:
        if self.email is None and self.phone is None and self.external_id is None:
            raise ValueError("a customer needs at least one of email, phone or external_id")
        return self


class OrderLine(ContractModel):
    """One line item of an order."""

    external_id: ExternalId | None = None
    sku: OptionalText = None
    name: NonEmptyStr
    quantity: int = Field(ge=1)
    unit_price: Money
    variant_id: ExternalId | None = None
    product_id: ExternalId | None = None
    discount_total: Money | None = None
    """Discount applied to this line as a whole."""
    total: Money | None = None
    """Line total after its discount, when the shop states it."""


class CanonicalOrder(ContractModel):
    """An order as a shop sees it now, in the suite's canonical shop format.

    Each message carries the whole order (an upsert, not a delta); `updated_at` orders the
    versions of one order.
    """

    store_id: NonEmptyStr
    """The connected shop this order comes from."""
    external_id: ExternalId
    """The shop's order id; unique within `store_id`."""
    placed_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    """Last change at the shop; when absent or null, validation sets it to `placed_at`."""
    currency: Currency
    financial_status: FinancialStatus = FinancialStatus.PENDING
    fulfillment_status: FulfillmentStatus = FulfillmentStatus.UNFULFILLED
    cancelled_at: UtcDatetime | None = None
    customer: ShopCustomer
    lines: list[OrderLine] = Field(min_length=1)
    billing_address: Address | None = None
    shipping_address: Address | None = None
    note: OptionalText = None
    tags: list[str] = Field(default_factory=list)
    discount_total: Money = ZERO
    shipping_total: Money = ZERO
    tax_total: Money = ZERO
    total: Money
    """What the customer was charged: lines less discounts, plus shipping and tax."""
    refunded_total: Money = ZERO
    """Sum of every refund so far."""
    checkout_id: ExternalId | None = None
    """The shop's id of the checkout the order was placed from (`shop.checkout.started`)."""
    cart_token: OptionalText = None
    """The shop's id (token) of the cart the order was placed from (`shop.cart.updated`)."""
    payments: list[Payment] = Field(default_factory=list)
    """The order's payment transactions, when the shop lists them."""
    refunds: list[Refund] = Field(default_factory=list)
    """Every refund so far; when `refunded_total` is left out, it is their successful sum."""
    shipments: list[Shipment] = Field(default_factory=list)
    """The fulfilments: lines handed to a carrier, with tracking and delivery status."""
    returns: list[Return] = Field(default_factory=list)
    """Items the customer sent back (or asked to)."""

    @model_validator(mode="after")
    def _default_updated_at(self) -> Self:
        if self.updated_at is None:
            self.updated_at = self.placed_at
        return self

    @model_validator(mode="after")
    def _default_refunded_total(self) -> Self:
        if self.refunds and "refunded_total" not in self.model_fields_set:
            self.refunded_total = refunded_amount(self.refunds, currency=self.currency)
        return self

    def compute_net_paid(self) -> Decimal:
        """What the customer has paid and kept paid: `total - refunded_total`, never below 0,
        once payment was captured; 0 while pending, authorized or voided (so also for an order
        cancelled before payment)."""
        if self.financial_status not in _CAPTURED:
            return ZERO
        return max(self.total - self.refunded_total, ZERO)


CANONICAL_ORDER_EXAMPLE: dict[str, Any] = {
    "store_id": "demo",
    "external_id": "1001",
    "placed_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-01T10:05:00Z",
    "currency": "USD",
    "financial_status": "paid",
    "fulfillment_status": "unfulfilled",
    "cancelled_at": None,
    "customer": {
        "external_id": "c-1",
        "email": "Ann@Example.com",
        "phone": "+1 415 555 0100",
        "first_name": "Ann",
        "last_name": "Lee",
        "accepts_marketing": True,
    },
    "lines": [{"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "12.50"}],
    "discount_total": "0.00",
    "shipping_total": "5.00",
    "tax_total": "2.00",
    "total": "32.00",
}

ORDER_UPSERTED = EventContract(
    type="shop.order.upserted",
    version=1,
    domain="shop",
    model=CanonicalOrder,
    topic=SHOP_ORDERS,
    example=CANONICAL_ORDER_EXAMPLE,
    key="external_id",
    source="shop/demo",
)
