from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm_common.access import mask_email, mask_phone, mask_text
from crm_events.customer import IdentityKind
from pydantic import BaseModel

from customer_profile.addresses.schemas import AddressRead
from customer_profile.customers.events import Attributes
from customer_profile.customers.models import Customer, CustomerIdentity
from customer_profile.scoring.rules import LifecycleStage, ValueTier
from customer_profile.scoring.schemas import ProfileScores, RfmRead


class IdentityRead(BaseModel):
    kind: IdentityKind
    value: str
    store_id: str | None
    linked_at: datetime


class CustomerStatsRead(BaseModel):
    orders_count: int
    total_spent: Decimal
    currency: str | None
    first_order_at: datetime | None
    last_order_at: datetime | None


class CustomerRead(BaseModel):
    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    accepts_marketing: bool
    identities: list[IdentityRead]
    stats: CustomerStatsRead
    version: int
    created_at: datetime
    updated_at: datetime
    merged_into: str | None = None
    """Set on a customer merged into another (shown only where merged customers are listed,
    such as merge suggestions: `GET /v1/customers/{id}` redirects to the survivor instead)."""
    lifecycle_stage: LifecycleStage | None = None
    value_tier: ValueTier | None = None
    rfm: list[RfmRead] = []
    """Lifecycle stage, value tier and RFM per store (see `scoring`); shown where `scores` is
    given to `of` (`GET /v1/customers/{id}`), null and empty elsewhere."""
    tags: list[str] = []
    traits: dict[str, Any] = {}
    """Set by `PATCH /v1/customers/{id}`; shown on the profile, lookups, search and the export
    (where `attributes` is given to `of`), empty elsewhere."""
    addresses: list[AddressRead] = []
    """Collected from the orders' shipping and billing addresses, one per place; shown on
    `GET /v1/customers/{id}`, the identity lookups and the export, empty elsewhere (search)."""

    @classmethod
    def of(
        cls,
        customer: Customer,
        identities: Sequence[CustomerIdentity],
        scores: ProfileScores | None = None,
        *,
        attributes: Attributes | None = None,
        addresses: Sequence[AddressRead] = (),
    ) -> "CustomerRead":
        return cls(
            **(scores.fields() if scores is not None else {}),
            tags=attributes.tags if attributes is not None else [],
            traits=attributes.traits if attributes is not None else {},
            addresses=list(addresses),
            customer_id=customer.customer_id,
            email=customer.email,
            phone=customer.phone,
            first_name=customer.first_name,
            last_name=customer.last_name,
            accepts_marketing=customer.accepts_marketing,
            identities=[
                IdentityRead(
                    kind=IdentityKind(row.kind),
                    value=row.normalised_value,
                    store_id=row.store_id or None,
                    linked_at=row.linked_at,
                )
                for row in identities
            ],
            stats=CustomerStatsRead(
                orders_count=customer.orders_count,
                total_spent=customer.total_spent,
                currency=customer.currency,
                first_order_at=customer.first_order_at,
                last_order_at=customer.last_order_at,
            ),
            version=customer.version,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            merged_into=customer.merged_into,
        )

    def masked(self) -> "CustomerRead":
        """As shown to a role without the personal-data right (access.py): contact data, names,
        email and phone identities and street lines masked; city, region and country kept."""
        return self.model_copy(
            update={
                "email": mask_email(self.email),
                "phone": mask_phone(self.phone),
                "first_name": mask_text(self.first_name),
                "last_name": mask_text(self.last_name),
                "identities": [
                    identity.model_copy(
                        update={"value": mask_identity(identity.kind, identity.value)}
                    )
                    for identity in self.identities
                ],
                "addresses": [
                    address.model_copy(
                        update={
                            "name": mask_text(address.name),
                            "line1": mask_text(address.line1),
                            "line2": mask_text(address.line2),
                            "postal_code": mask_text(address.postal_code),
                        }
                    )
                    for address in self.addresses
                ],
            }
        )


def mask_identity(kind: IdentityKind, value: str) -> str:
    """An email or phone identity masked; a shop's customer reference is no contact data."""
    if kind is IdentityKind.EMAIL:
        return mask_email(value) or value
    if kind is IdentityKind.PHONE:
        return mask_phone(value) or value
    return value


class CustomerList(BaseModel):
    items: list[CustomerRead]


class MergedCustomer(BaseModel):
    """The body of the 308 redirect from a merged customer to its survivor."""

    customer_id: str
    merged_into: str
    """The survivor now holding the customer's identities and orders (the end of the chain when
    the survivor was itself merged later)."""


MERGED_REDIRECT: dict[int | str, dict[str, Any]] = {
    308: {
        "model": MergedCustomer,
        "description": "merged: the same resource of its survivor, at `Location`",
        "headers": {
            "Location": {"required": True, "schema": {"type": "string"}},
            "Cache-Control": {
                "description": "no-store: an undo of the merge ends the redirect",
                "required": True,
                "schema": {"type": "string"},
            },
        },
    }
}
"""The `responses=` entry of a route redirecting from a merged customer to its survivor."""
