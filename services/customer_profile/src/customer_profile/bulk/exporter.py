"""The export: every customer of their own as one NDJSON line, read in keyset pages.

Each page is read (and audited) in a transaction of its own and sent before the next is read:
memory holds one page, whatever the table's size, and no transaction stays open while the
client reads. A customer changed during the export shows as it was when its page was read.
"""

from collections.abc import AsyncIterator

from crm_common.db import transaction
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.attributes import service as attributes
from customer_profile.bulk import repository
from customer_profile.bulk.schemas import ExportIdentity, ExportLine, ExportStats
from customer_profile.consents.schemas import ConsentRead
from customer_profile.customers import events
from customer_profile.customers import repository as customers
from customer_profile.privacy import audit

PAGE = 500
BULK_EXPORT = "customers.export"
"""The audit action of each customer a bulk export shows."""


async def export_lines(
    *,
    sessions: async_sessionmaker[AsyncSession],
    actor: str,
    store_id: str | None = None,
    page_size: int = PAGE,
) -> AsyncIterator[bytes]:
    """The NDJSON of every customer (of `store_id` when given), one page per chunk; each page
    is audited in the transaction that reads it, before it is sent."""
    after: str | None = None
    while True:
        async with transaction(sessions) as session:
            page = await repository.export_page(
                session=session, after=after, store_id=store_id, limit=page_size
            )
            ids = [customer.customer_id for customer in page]
            audit.record(session=session, actor=actor, action=BULK_EXPORT, customer_ids=ids)
            identities = await customers.identities_of_many(session=session, customer_ids=ids)
            consents = await repository.consents_of_many(session=session, customer_ids=ids)
            held = await attributes.attributes_of_many(session=session, customer_ids=ids)
            lines = [
                ExportLine(
                    customer_id=customer.customer_id,
                    email=customer.email,
                    phone=customer.phone,
                    first_name=customer.first_name,
                    last_name=customer.last_name,
                    accepts_marketing=customer.accepts_marketing,
                    identities=[
                        ExportIdentity(
                            kind=identity.kind,
                            value=identity.value,
                            store_id=identity.store_id,
                            linked_at=row.linked_at,
                        )
                        for row in events.sorted_identities(identities[customer.customer_id])
                        for identity in [events.identity(row)]
                    ],
                    consents=[ConsentRead.of(row) for row in consents[customer.customer_id]],
                    tags=held[customer.customer_id].tags,
                    traits=held[customer.customer_id].traits,
                    stats=ExportStats(
                        orders_count=customer.orders_count,
                        total_spent=customer.total_spent,
                        currency=customer.currency,
                        first_order_at=customer.first_order_at,
                        last_order_at=customer.last_order_at,
                    ),
                    version=customer.version,
                    created_at=customer.created_at,
                    updated_at=customer.updated_at,
                ).model_dump_json()
                for customer in page
            ]
        if lines:
            yield ("\n".join(lines) + "\n").encode()
        if len(page) < page_size:
            return
        after = ids[-1]
