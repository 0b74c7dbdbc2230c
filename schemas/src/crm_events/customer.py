"""Customer events that customer-profile publishes on `crm.customers.v1`, keyed by customer id.

customer-profile alone decides who a customer is: it links the shops' references and contact keys
to a `customer_id`, announces each link, each order it attributes and each merge, and every other
service keeps its own copy of that mapping from these events.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Any, Self, TypeVar

from crm_common.contracts import EventContract
from pydantic import ConfigDict, Field, model_validator

from crm_events._base import ContractModel
from crm_events.topics import CRM_CUSTOMERS
from crm_events.types import Currency, ExternalId, Money, NonEmptyStr, UtcDatetime

__all__ = [
    "CUSTOMER_CONSENT_CHANGED",
    "CUSTOMER_CONTRACTS",
    "CUSTOMER_CREATED",
    "CUSTOMER_ERASED",
    "CUSTOMER_IDENTITY_LINKED",
    "CUSTOMER_MERGED",
    "CUSTOMER_ORDER_ATTRIBUTED",
    "CUSTOMER_TICKET_ATTRIBUTED",
    "CUSTOMER_UNMERGED",
    "CUSTOMER_UPDATED",
    "E164_PATTERN",
    "ConsentChannel",
    "ConsentPurpose",
    "ConsentSource",
    "ConsentStatus",
    "CustomerConsentChanged",
    "CustomerCreated",
    "CustomerErased",
    "CustomerIdentityLinked",
    "CustomerMerged",
    "CustomerOrderAttributed",
    "CustomerSnapshot",
    "CustomerStats",
    "CustomerTicketAttributed",
    "CustomerUnmerged",
    "CustomerUpdated",
    "Identity",
    "IdentityKind",
]

E164_PATTERN = r"^\+[1-9]\d{1,14}$"


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    STORE_REF = "store_ref"


class Identity(ContractModel):
    """A key that points at one customer: a normalised email, an E.164 phone, or a shop's own
    customer id (`store_ref`, which also names its `store_id`)."""

    model_config = ConfigDict(
        # The same rule as the validator below, for consumers that only read the JSON Schema.
        json_schema_extra={
            "if": {"properties": {"kind": {"const": "store_ref"}}, "required": ["kind"]},
            "then": {"required": ["store_id"], "properties": {"store_id": {"type": "string"}}},
        }
    )

    kind: IdentityKind
    value: NonEmptyStr
    store_id: str | None = None
    """The shop a `store_ref` belongs to; null for email and phone."""

    @model_validator(mode="after")
    def _store_ref_names_its_store(self) -> Self:
        if self.kind is IdentityKind.STORE_REF and not self.store_id:
            raise ValueError("a store_ref identity needs its store_id")
        return self


class CustomerStats(ContractModel):
    """Order statistics of a customer, from the orders attributed to them."""

    orders_count: int = Field(default=0, ge=0)
    total_spent: Money = Decimal("0")
    """Sum of `net_paid` over the customer's orders, in `currency`."""
    currency: Currency | None = None
    """The currency of `total_spent`; null before the first order."""
    first_order_at: UtcDatetime | None = None
    last_order_at: UtcDatetime | None = None


class CustomerSnapshot(ContractModel):
    """A customer as customer-profile stores it after the change."""

    customer_id: NonEmptyStr
    email: str | None = None
    """Normalised: trimmed and lower-cased."""
    phone: str | None = Field(default=None, pattern=E164_PATTERN)
    """E.164, such as `+14155550100`."""
    first_name: str | None = None
    last_name: str | None = None
    accepts_marketing: bool = False
    identities: list[Identity] = Field(default_factory=list)
    stats: CustomerStats = Field(default_factory=CustomerStats)
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(ge=1)
    """Increases with every stored change of this customer."""
    tags: list[str] | None = None
    """The customer's tags (lower-case labels set by marketers and agents), sorted. Null when
    the event does not state them (producers older than this field): keep what you hold."""
    traits: dict[str, Any] | None = None
    """Free-form JSON set through customer-profile's API (`PATCH /v1/customers/{id}`). Null when
    the event does not state them: keep what you hold."""


class CustomerCreated(CustomerSnapshot):
    """A customer was seen for the first time."""


class CustomerUpdated(CustomerSnapshot):
    """A customer's profile, identities or order statistics changed."""


class CustomerIdentityLinked(ContractModel):
    """An identity now points at this customer; map it to `customer_id` from here on."""

    customer_id: NonEmptyStr
    identity: Identity


class CustomerOrderAttributed(ContractModel):
    """An order belongs to this customer; every other service attributes it the same way."""

    customer_id: NonEmptyStr
    order_id: NonEmptyStr
    """Our order id, as on `crm.orders.v1`."""
    store_id: NonEmptyStr
    order_external_id: ExternalId
    """The shop's order id, as on `shop.orders.v1`."""


class CustomerTicketAttributed(ContractModel):
    """A ticket's requester is this customer (customer-profile resolved the contact the ticket
    came with, as `crm.tickets.v1` announced it); support-ticket links the ticket to them."""

    customer_id: NonEmptyStr
    ticket_id: NonEmptyStr
    """support-ticket's id, as on `crm.tickets.v1`."""


class CustomerMerged(ContractModel):
    """Two customers turned out to be one: re-point everything of `merged_id` to `survivor_id`.

    Keyed by `merged_id`, so it follows every earlier event of the merged customer on its
    partition; no event names `merged_id` afterwards, unless the merge is undone
    (`crm.customer.unmerged` with the same `merge_id`).
    """

    merge_id: NonEmptyStr
    survivor_id: NonEmptyStr
    merged_id: NonEmptyStr
    merged_at: UtcDatetime
    reason: str | None = None
    """Why: `identity` (an order's identities matched both) or `manual` (an admin merged them)."""
    identity: Identity | None = None
    """The identity that joined the two customers, for `identity` merges."""

    @model_validator(mode="after")
    def _two_customers(self) -> Self:
        if self.survivor_id == self.merged_id:
            raise ValueError("survivor_id and merged_id must differ")
        return self


class ConsentChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    """Promotional messages: newsletters, campaigns, offers."""
    TRANSACTIONAL = "transactional"
    """Service messages about the person's own orders, account and tickets."""
    PROFILING = "profiling"
    """Using the person's behaviour to personalise offers and predictions."""


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentSource(StrEnum):
    ORDER = "order"
    """A shop order's marketing flag (`accepts_marketing`)."""
    API = "api"
    """A person's decision recorded through customer-profile's API (preference centre, agent)."""
    IMPORT = "import"
    """A decision taken elsewhere and imported with its own time."""
    SHOP = "shop"
    """A decision the shop recorded itself (its own consent form or customer settings)."""


class CustomerConsentChanged(ContractModel):
    """The customer's consent for one channel and purpose changed; the newest state per
    (channel, purpose) is the one to honour."""

    customer_id: NonEmptyStr
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    source: ConsentSource
    changed_at: UtcDatetime
    """When the person took the decision (for an order: the order's `updated_at`)."""
    proof: dict[str, str] = Field(default_factory=dict)
    """Free-form evidence of the decision, such as `ip`, `user_agent`, `form_id`, `order_id`."""


class CustomerUnmerged(ContractModel):
    """A merge was undone: `merged_id` is a customer of its own again.

    Map `identities` and `order_ids` back from `survivor_id` to `merged_id`; a
    `crm.customer.updated` of each customer follows. Keyed by `merged_id`, like the merge.
    """

    merge_id: NonEmptyStr
    """The merge undone, as in its `crm.customer.merged`."""
    survivor_id: NonEmptyStr
    merged_id: NonEmptyStr
    unmerged_at: UtcDatetime
    identities: list[Identity] = Field(default_factory=list)
    """The identities that point at `merged_id` again."""
    order_ids: list[NonEmptyStr] = Field(default_factory=list)
    """The orders (ids as on `crm.orders.v1`) attributed to `merged_id` again."""

    @model_validator(mode="after")
    def _two_customers(self) -> Self:
        if self.survivor_id == self.merged_id:
            raise ValueError("survivor_id and merged_id must differ")
        return self


class CustomerErased(ContractModel):
    """A customer asked to be forgotten: delete or anonymise their personal data everywhere."""

    customer_id: NonEmptyStr
    erased_at: UtcDatetime


_CUSTOMER_ID = "8d1c5e2a-6b7f-4e3d-9a10-3c2b1a0f9e87"
_SNAPSHOT: dict[str, Any] = {
    "customer_id": _CUSTOMER_ID,
    "email": "ann@example.com",
    "phone": "+14155550100",
    "first_name": "Ann",
    "last_name": "Lee",
    "accepts_marketing": True,
    "identities": [
        {"kind": "email", "value": "ann@example.com", "store_id": None},
        {"kind": "phone", "value": "+14155550100", "store_id": None},
        {"kind": "store_ref", "value": "c-1", "store_id": "demo"},
    ],
    "stats": {
        "orders_count": 1,
        "total_spent": "32.00",
        "currency": "USD",
        "first_order_at": "2026-11-01T10:00:00Z",
        "last_order_at": "2026-11-01T10:00:00Z",
    },
    "created_at": "2026-11-01T10:00:02Z",
    "updated_at": "2026-11-01T10:00:02Z",
    "version": 1,
    "tags": [],
    "traits": {},
}

ModelT = TypeVar("ModelT", bound=ContractModel)


def _contract(
    event_type: str, model: type[ModelT], example: dict[str, Any], *, key: str = "customer_id"
) -> EventContract[ModelT]:
    return EventContract(
        type=event_type,
        version=1,
        domain="customer",
        model=model,
        topic=CRM_CUSTOMERS,
        example=example,
        key=key,
        source="customer-profile",
    )


CUSTOMER_CREATED = _contract("crm.customer.created", CustomerCreated, _SNAPSHOT)
CUSTOMER_UPDATED = _contract(
    "crm.customer.updated",
    CustomerUpdated,
    {
        **_SNAPSHOT,
        "accepts_marketing": False,
        "updated_at": "2026-11-03T08:00:00Z",
        "version": 2,
        "tags": ["vip", "wholesale"],
        "traits": {"shoe_size": 42, "preferred_store": "demo"},
    },
)
CUSTOMER_IDENTITY_LINKED = _contract(
    "crm.customer.identity_linked",
    CustomerIdentityLinked,
    {
        "customer_id": _CUSTOMER_ID,
        "identity": {"kind": "store_ref", "value": "c-1", "store_id": "demo"},
    },
)
CUSTOMER_ORDER_ATTRIBUTED = _contract(
    "crm.customer.order_attributed",
    CustomerOrderAttributed,
    {
        "customer_id": _CUSTOMER_ID,
        "order_id": "5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61",
        "store_id": "demo",
        "order_external_id": "1001",
    },
)
CUSTOMER_TICKET_ATTRIBUTED = _contract(
    "crm.customer.ticket_attributed",
    CustomerTicketAttributed,
    {"customer_id": _CUSTOMER_ID, "ticket_id": "d2c4e6f8-0a1b-4c3d-9e5f-6a7b8c9d0e1f"},
)
CUSTOMER_MERGED = _contract(
    "crm.customer.merged",
    CustomerMerged,
    {
        "merge_id": "0f4e9c1b-2d3a-4b5c-8e7f-6a5b4c3d2e1f",
        "survivor_id": _CUSTOMER_ID,
        "merged_id": "2a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
        "merged_at": "2026-11-04T09:00:00Z",
        "reason": "identity",
        "identity": {"kind": "phone", "value": "+14155550100", "store_id": None},
    },
    key="merged_id",
)
CUSTOMER_UNMERGED = _contract(
    "crm.customer.unmerged",
    CustomerUnmerged,
    {
        "merge_id": "0f4e9c1b-2d3a-4b5c-8e7f-6a5b4c3d2e1f",
        "survivor_id": _CUSTOMER_ID,
        "merged_id": "2a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
        "unmerged_at": "2026-11-05T15:30:00Z",
        "identities": [{"kind": "phone", "value": "+14155550100", "store_id": None}],
        "order_ids": ["5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61"],
    },
    key="merged_id",
)
CUSTOMER_ERASED = _contract(
    "crm.customer.erased",
    CustomerErased,
    {"customer_id": _CUSTOMER_ID, "erased_at": "2026-12-01T00:00:00Z"},
)

CUSTOMER_CONSENT_CHANGED = _contract(
    "crm.customer.consent_changed",
    CustomerConsentChanged,
    {
        "customer_id": _CUSTOMER_ID,
        "channel": "email",
        "purpose": "marketing",
        "status": "granted",
        "source": "order",
        "changed_at": "2026-11-01T10:05:00Z",
        "proof": {"order_id": "5b7f0d0c-3f1e-4f7a-9c55-2a4d3c0e9b61", "store_id": "demo"},
    },
)

CUSTOMER_CONTRACTS: tuple[EventContract[Any], ...] = (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_IDENTITY_LINKED,
    CUSTOMER_ORDER_ATTRIBUTED,
    CUSTOMER_TICKET_ATTRIBUTED,
    CUSTOMER_MERGED,
    CUSTOMER_UNMERGED,
    CUSTOMER_ERASED,
    CUSTOMER_CONSENT_CHANGED,
)
