"""Collecting addresses from orders and showing them per customer, de-duplicated."""

from collections.abc import Sequence

from crm_events.order import OrderSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import repository
from customer_profile.addresses.normalise import comparable, fingerprint
from customer_profile.addresses.schemas import AddressRead
from customer_profile.customers.memo import memo_of

SHIPPING = "shipping"
BILLING = "billing"
FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


async def record_order(*, session: AsyncSession, order: OrderSnapshot, known: bool) -> None:
    """Keep the order's shipping and billing addresses as of this snapshot (`known`: an earlier
    snapshot of the order was stored, whose addresses this one may have dropped)."""
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
    memo = memo_of(session)
    stored = memo.addresses.get(order.order_id) if memo is not None else None
    if stored is not None:
        # Known to the batch: only the kinds actually stored have anything to delete.
        stored.update(kind for kind in (SHIPPING, BILLING) if kind not in gone)
        gone = [kind for kind in gone if kind in stored]
        stored.difference_update(gone)
    if known:
        await repository.delete_order_addresses(
            session=session, order_id=order.order_id, kinds=gone
        )


async def addresses_of(*, session: AsyncSession, customer_id: str) -> list[AddressRead]:
    """The customer's addresses, one per place, most recently used first."""
    return [
        AddressRead(
            kinds=list(row["kinds"]),
            **{name: row["address"].get(name) for name in FIELDS},
            first_seen_at=row["first_seen_at"],
            last_seen_at=row["last_seen_at"],
            orders=row["orders"],
        )
        for row in await repository.of_customer(session=session, customer_id=customer_id)
    ]


async def erase(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """Delete the addresses of the customers' orders."""
    await repository.delete_of(session=session, customer_ids=customer_ids)
