"""An order's own records: payments, refunds, shipments (fulfilments) and returns.

The canonical shop order (`crm_events.shop.CanonicalOrder`) and every order snapshot on
`crm.orders.v1` carry them as optional lists. Each record keeps the shop's id when it has one;
amounts are decimal strings, in the order's currency unless the record names another.
"""

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from crm_events._base import ContractModel
from crm_events.types import Currency, ExternalId, Money, OptionalText, UtcDatetime

__all__ = [
    "RECEIVED_RETURN",
    "Payment",
    "PaymentKind",
    "PaymentStatus",
    "Refund",
    "RefundLine",
    "Return",
    "ReturnLine",
    "ReturnStatus",
    "Shipment",
    "ShipmentLine",
    "ShipmentStatus",
    "paid_amount",
    "record_key",
    "refunded_amount",
]


class PaymentKind(StrEnum):
    AUTHORIZATION = "authorization"
    """Money reserved on the customer's card, not taken yet."""
    CAPTURE = "capture"
    """An authorization taken."""
    SALE = "sale"
    """Authorized and taken at once."""
    VOID = "void"
    """An authorization released."""
    REFUND = "refund"
    """Money given back (refunds are also listed in `refunds`, with their lines)."""


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


# Kinds whose successful amount the customer paid.
_TAKEN = frozenset({PaymentKind.CAPTURE, PaymentKind.SALE})


class Payment(ContractModel):
    """One payment transaction of the order, as the shop's payment gateway recorded it."""

    external_id: ExternalId | None = None
    """The shop's (or the gateway's) id of the transaction."""
    kind: PaymentKind
    status: PaymentStatus = PaymentStatus.SUCCESS
    amount: Money
    currency: Currency | None = None
    """ISO 4217; null means the order's currency."""
    gateway: OptionalText = None
    """The payment gateway or method, as the shop names it (`shopify_payments`, `bacs`)."""
    processed_at: UtcDatetime | None = None
    parent_id: ExternalId | None = None
    """The transaction this one captures, voids or refunds, when the shop says."""


class RefundLine(ContractModel):
    """Units of one order line given back in a refund."""

    line_external_id: ExternalId | None = None
    """The order line's `external_id`."""
    sku: OptionalText = None
    quantity: int = Field(ge=0)
    amount: Money | None = None
    """What was refunded for these units, when the shop says."""
    restocked: bool = False
    """These units went back into the shop's stock with the refund itself: cancelled before
    they shipped (a return received restocks through `returns` instead)."""


class Refund(ContractModel):
    """Money given back to the customer (a payment of kind `refund`), with the lines it covers."""

    external_id: ExternalId | None = None
    amount: Money
    """What went back to the customer; positive."""
    currency: Currency | None = None
    """ISO 4217; null means the order's currency."""
    gateway: OptionalText = None
    status: PaymentStatus = PaymentStatus.SUCCESS
    """Only a successful refund counts in the order's `refunded_total`."""
    processed_at: UtcDatetime | None = None
    note: OptionalText = None
    """The reason the shop recorded."""
    lines: list[RefundLine] = Field(default_factory=list)
    restocked: bool = False
    """Whether the shop put the refunded items back in its stock."""


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    """Created, with no word from the carrier yet."""
    LABEL_PRINTED = "label_printed"
    LABEL_PURCHASED = "label_purchased"
    CONFIRMED = "confirmed"
    """Handed over (the shop confirmed the fulfilment), with no word from the carrier yet."""
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ATTEMPTED_DELIVERY = "attempted_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    CARRIER_PICKED_UP = "carrier_picked_up"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    """Delivered, or picked up by the customer."""
    FAILURE = "failure"
    """The carrier could not deliver it."""
    CANCELLED = "cancelled"
    """The shipment was cancelled: its lines count as unshipped again."""


class ShipmentLine(ContractModel):
    """Units of one order line in a shipment."""

    line_external_id: ExternalId | None = None
    """The order line's `external_id`."""
    sku: OptionalText = None
    quantity: int = Field(ge=1)


class Shipment(ContractModel):
    """One fulfilment of the order: some of its lines, handed to a carrier."""

    external_id: ExternalId | None = None
    status: ShipmentStatus = ShipmentStatus.PENDING
    carrier: OptionalText = None
    tracking_numbers: list[str] = Field(default_factory=list)
    tracking_urls: list[str] = Field(default_factory=list)
    lines: list[ShipmentLine] = Field(default_factory=list)
    shipped_at: UtcDatetime | None = None
    """When the shop created the fulfilment."""
    updated_at: UtcDatetime | None = None
    """Last change of this shipment at the shop (status or tracking): newer wins."""
    delivered_at: UtcDatetime | None = None


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    OPEN = "open"
    """Accepted; the items are on their way back."""
    RECEIVED = "received"
    CLOSED = "closed"
    """Received and processed."""
    DECLINED = "declined"
    CANCELLED = "cancelled"


RECEIVED_RETURN = frozenset({ReturnStatus.RECEIVED, ReturnStatus.CLOSED})
"""The statuses of a return whose items are back at the shop (and back in its stock)."""


class ReturnLine(ContractModel):
    """Units of one order line sent back."""

    line_external_id: ExternalId | None = None
    """The order line's `external_id`; the SKU is taken from that line when not given."""
    sku: OptionalText = None
    quantity: int = Field(ge=1)
    reason: OptionalText = None


class Return(ContractModel):
    """Items of the order the customer sent back."""

    external_id: ExternalId | None = None
    status: ReturnStatus = ReturnStatus.REQUESTED
    lines: list[ReturnLine] = Field(default_factory=list)
    requested_at: UtcDatetime | None = None
    received_at: UtcDatetime | None = None

    @property
    def received(self) -> bool:
        return self.status in RECEIVED_RETURN


def paid_amount(payments: Iterable[Payment], *, currency: str) -> Decimal:
    """What the successful captures and sales in `currency` (or in none stated) add up to."""
    return sum(
        (
            p.amount
            for p in payments
            if p.kind in _TAKEN
            and p.status == PaymentStatus.SUCCESS
            and p.currency in (None, currency)
        ),
        Decimal(0),
    )


def refunded_amount(refunds: Iterable[Refund], *, currency: str) -> Decimal:
    """What the successful refunds in `currency` (or in none stated) add up to."""
    return sum(
        (
            r.amount
            for r in refunds
            if r.status == PaymentStatus.SUCCESS and r.currency in (None, currency)
        ),
        Decimal(0),
    )


def record_key(position: int, external_id: str | None) -> str:
    """A record's key within its order: the shop's id, else its position in the list (`#0`)."""
    return external_id if external_id is not None else f"#{position}"
