"""Collecting addresses from orders and shop accounts and showing them per customer,
de-duplicated."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm_events.order import OrderSnapshot
from crm_events.shop import Address
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import repository
from customer_profile.addresses.normalise import comparable, fingerprint
from customer_profile.addresses.schemas import AddressRead

SHIPPING = "shipping"
BILLING = "billing"
ACCOUNT = "account"
FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


async def record_order(
    *, session: AsyncSession, order: OrderSnapshot, known: bool, stored: set[str] | None
) -> None:
    """Keep the order's shipping and billing addresses as of this snapshot (`known`: an earlier
    snapshot of the order was stored, whose addresses this one may have dropped; `stored`: the
    kinds stored for it, when the caller knows them, kept current)."""
    rows = []
    gone = []
    for kind, address in ((SHIPPING, order.shipping_address), (BILLING, order.billing_address)):
        raw = address.model_dump(include=set(FIELDS)) if address is not None else {}
        parts = comparable(raw)
        if parts is None:
            gone.append(kind)
            continue
        rows.append(
            {
                "order_id": order.order_id,
                "kind": kind,
                "fingerprint": fingerprint(parts),
                "address": {name: raw.get(name) for name in FIELDS},
            }
        )
    await repository.save_order_addresses(session=session, rows=rows)
    if stored is not None:
        # Known to the caller: only the kinds actually stored have anything to delete.
        stored.update(kind for kind in (SHIPPING, BILLING) if kind not in gone)
        gone = [kind for kind in gone if kind in stored]
        stored.difference_update(gone)
    if known:
        await repository.delete_order_addresses(
            session=session, order_id=order.order_id, kinds=gone
        )


async def record_account(
    *,
    session: AsyncSession,
    account_digest: str,
    customer_id: str,
    addresses: Sequence[Address],
    seen_at: datetime,
) -> None:
    """Make `addresses` the shop account's addresses, the customer's as of the revision of
    `seen_at` (the caller applies only revisions newer than the account's last)."""
    rows: dict[str, dict[str, Any]] = {}
    for position, address in enumerate(addresses):
        raw = address.model_dump(include=set(FIELDS))
        parts = comparable(raw)
        if parts is None:
            continue
        # An account listing one place twice (as its shipping and its billing default, say)
        # keeps the first, the one the shop ranks higher.
        rows.setdefault(
            fingerprint(parts),
            {
                "account_digest": account_digest,
                "customer_id": customer_id,
                "position": position,
                "address": {name: raw.get(name) for name in FIELDS},
                "first_seen_at": seen_at,
                "last_seen_at": seen_at,
            },
        )
    await repository.replace_account_addresses(
        session=session,
        account_digest=account_digest,
        rows=[{"fingerprint": key, **row} for key, row in rows.items()],
    )


async def addresses_of(*, session: AsyncSession, customer_id: str) -> list[AddressRead]:
    """The customer's addresses from orders and shop accounts, one per place, most recently
    seen first."""
    return [
        AddressRead(
            kinds=list(row["kinds"]),
            **{name: _newest_form(row).get(name) for name in FIELDS},
            first_seen_at=row["first_seen_at"],
            last_seen_at=row["last_seen_at"],
            orders=row["orders"],
        )
        for row in await repository.of_customer(session=session, customer_id=customer_id)
    ]


def _newest_form(row: Any) -> dict[str, Any]:
    form: dict[str, Any] = row["order_address"] or row["account_address"]
    return form


async def erase(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """Delete the addresses of the customers' orders and shop accounts."""
    await repository.delete_of(session=session, customer_ids=customer_ids)
