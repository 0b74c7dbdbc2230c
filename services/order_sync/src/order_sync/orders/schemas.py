from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from crm_common.access import mask_email, mask_phone, mask_text
from crm_events.order import OrderSnapshot
from crm_events.shop import Address
from crm_events.types import Money
from pydantic import BaseModel, Field

MAX_BATCH_ORDERS = 1000


class UpsertStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class Channel(StrEnum):
    """How an order reached order-sync; the sync status reports it for the last one received."""

    REST = "rest"
    KAFKA = "kafka"
    IMPORT = "import"
    WEBHOOK = "webhook"


class OrderAccepted(BaseModel):
    """The answer to a submitted order: our id for it, once the broker holds it. What storing it
    did (created, updated, unchanged) shows on the order and in its events once applied."""

    order_id: str
    status: Literal["accepted"] = "accepted"


class OrderNet(BaseModel):
    """An order's net revenue: what was paid less what was refunded, in the order's currency."""

    paid: Money
    """The successful captures and sales in `payments`; when the order lists none (no payments,
    or only authorizations, voids, refunds and attempts that did not succeed), its total once
    the money was captured (financial status paid, partially or fully refunded), else 0."""
    refunded: Money
    """`refunded_total`: the successful refunds."""
    net: Money
    """`paid - refunded`."""


class OrderRead(OrderSnapshot):
    """A stored order: the canonical order as last sent (its payments, refunds, shipments and
    returns included), with our id, version, net paid and net revenue."""

    net: OrderNet

    def masked(self) -> "OrderRead":
        """As shown to a role without the personal-data right (access.py): the customer's email,
        phone and names, and the addresses' names, street lines and postal codes masked; the
        shop's customer reference, city, region and country kept."""
        customer = self.customer.model_copy(
            update={
                "email": mask_email(self.customer.email),
                "phone": mask_phone(self.customer.phone),
                "first_name": mask_text(self.customer.first_name),
                "last_name": mask_text(self.customer.last_name),
            }
        )
        return self.model_copy(
            update={
                "customer": customer,
                "billing_address": _masked_address(self.billing_address),
                "shipping_address": _masked_address(self.shipping_address),
            }
        )


def _masked_address(address: Address | None) -> Address | None:
    if address is None:
        return None
    return address.model_copy(
        update={
            "name": mask_text(address.name),
            "line1": mask_text(address.line1),
            "line2": mask_text(address.line2),
            "postal_code": mask_text(address.postal_code),
        }
    )


class FieldError(BaseModel):
    """One reason an order was refused: the field at fault (a dotted path inside the order,
    empty for the order as a whole) and what is wrong with it."""

    field: str
    message: str


class OrderBatch(BaseModel):
    """Up to 1,000 canonical orders; each one is validated on its own."""

    # Items stay untyped here so that one invalid order is reported in its own result instead
    # of failing the whole request.
    orders: list[Any] = Field(max_length=MAX_BATCH_ORDERS)


class BatchStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class BatchItemResult(BaseModel):
    index: int
    """The item's position in `orders`, from 0."""
    external_id: str | None
    """The item's `external_id` when it had a usable one."""
    order_id: str | None
    """Our id of the order; null when the item was rejected before it could be named."""
    status: BatchStatus
    errors: list[FieldError] | None = Field(default=None, exclude_if=lambda value: value is None)
    """Only on rejected items."""


class BatchResult(BaseModel):
    """One result per submitted order, in input order."""

    results: list[BatchItemResult]


class OrderPage(BaseModel):
    """Orders newest first; pass `next_cursor` as `cursor` for the next page (null at the end)."""

    orders: list[OrderRead]
    next_cursor: str | None


class OrderFilters(BaseModel):
    """What `GET /v1/orders` narrows the list by; every field is optional."""

    store_id: str | None = None
    customer_external_id: str | None = None
    customer_email: str | None = None
    financial_status: list[str] | None = None
    fulfillment_status: list[str] | None = None
    cancelled: bool | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None
