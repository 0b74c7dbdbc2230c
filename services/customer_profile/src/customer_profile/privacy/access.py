"""The right of access: everything held about one person, in one document."""

import base64
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_common.envelope import format_rfc3339
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import service as addresses
from customer_profile.attributes import service as attributes
from customer_profile.consents import service as consents
from customer_profile.consents.schemas import ConsentLogRead, ConsentRead
from customer_profile.customers import repository as customers
from customer_profile.customers import service as customer_service
from customer_profile.customers.schemas import CustomerRead
from customer_profile.privacy import repository
from customer_profile.privacy.exceptions import MergedIntoAnother
from customer_profile.privacy.schemas import CustomerExport, MergedCustomerExport, OrderExport

# Tables the export shows in their own typed sections, or that hold nothing about the person:
# the audit names the staff who read the data, not the person's data.
_TYPED_OR_INTERNAL = frozenset(
    {
        "customers",
        "customer_identities",
        "customer_orders",
        "customer_consents",
        "consent_log",
        "customer_erasures",
        "audit_log",
        "outbox_events",
        "processed_events",
        # Shown on the profile (tags, traits, addresses); digests and undo records that name no
        # one.
        "customer_attributes",
        "customer_tags",
        "account_addresses",
        "customer_name_terms",
        "attribute_merges",
    }
)


async def export_customer(
    *, session: AsyncSession, customer_id: str, now: datetime
) -> CustomerExport | None:
    """The customer's profile, identities, orders, consents and their log, what is left on the
    customers merged into it, and every row of any other table naming any of them; None when
    there is no such customer. A customer merged into another is refused: export the survivor."""
    view = await customer_service.get_customer(session=session, customer_id=customer_id)
    if view is None:
        return None
    if view.customer.merged_into is not None:
        survivor = await customer_service.survivor_of(session=session, customer_id=customer_id)
        raise MergedIntoAnother(customer_id, survivor, action="export")
    chain = await repository.merged_into_chain(session=session, customer_id=customer_id)
    ids = [customer_id, *chain]
    orders = [
        order for i in ids for order in await customers.orders_of(session=session, customer_id=i)
    ]
    held = await consents.consents_view(session=session, customer_id=customer_id)
    merged = []
    for merged_id in chain:
        their_view = await customer_service.get_customer(session=session, customer_id=merged_id)
        if their_view is None:
            continue
        theirs = await consents.consents_view(session=session, customer_id=merged_id)
        their_attributes = await attributes.attributes_of(session=session, customer_id=merged_id)
        merged.append(
            MergedCustomerExport(
                profile=CustomerRead.of(
                    their_view.customer, their_view.identities, attributes=their_attributes
                ),
                consents=[ConsentRead.of(row) for row in theirs.consents],
                consent_log=[ConsentLogRead.of_entry(row) for row in theirs.log],
            )
        )
    return CustomerExport(
        customer_id=customer_id,
        exported_at=now,
        profile=CustomerRead.of(
            view.customer,
            view.identities,
            attributes=await attributes.attributes_of(session=session, customer_id=customer_id),
            addresses=await addresses.addresses_of(session=session, customer_id=customer_id),
        ),
        orders=[OrderExport.of(row) for row in sorted(orders, key=lambda o: o.placed_at)],
        consents=[ConsentRead.of(row) for row in held.consents],
        consent_log=[ConsentLogRead.of_entry(row) for row in held.log],
        merged_customers=merged,
        other=await _other_tables(session, ids),
    )


async def _other_tables(session: AsyncSession, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    other: dict[str, list[dict[str, Any]]] = {}
    tables = await repository.tables_naming_customers(session=session)
    for table, columns in tables.items():
        if table in _TYPED_OR_INTERNAL:
            continue
        rows = await repository.rows_naming(
            session=session, table=table, columns=columns, customer_ids=ids
        )
        if rows:
            other[table] = [_plain_row(row) for row in rows]
    return other


def _plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in row.items()}


def _plain(value: Any) -> Any:
    """A JSON value that loses nothing: money stays a decimal string, never a float."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
