"""Every query on the contact list. A batch of events reads and writes its contacts set-based:
one claim of its event ids, one locking read, one multi-row upsert."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from campaign.contacts.batch import ContactRow
from campaign.contacts.models import Contact

_COLUMNS = (
    "customer_id, email, phone, first_name, last_name, accepts_marketing, merged_into, erased, "
    "version, updated_at"
)

# Statements with their values as arrays: one text whatever the batch's size, so asyncpg
# prepares each once per connection.
_CLAIM = text(
    "INSERT INTO processed_events (consumer, event_id, processed_at) "
    "SELECT :consumer, event_id, :at FROM unnest(CAST(:event_ids AS text[])) AS event_id "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
# The contacts named, and for `linked` every contact joined to them by merges in either
# direction (the chains up to the survivors and the contacts merged into them), locked in id
# order so that two batches touching the same contacts wait for each other without deadlock.
_LOCK = text(
    f"WITH RECURSIVE linked(customer_id) AS ("
    f"  SELECT unnest(CAST(:linked AS text[])) "
    f"  UNION "
    f"  SELECT hop.customer_id FROM linked JOIN contacts AS c "
    f"    ON c.customer_id = linked.customer_id OR c.merged_into = linked.customer_id "
    f"  CROSS JOIN LATERAL (VALUES (c.customer_id), (c.merged_into)) AS hop(customer_id) "
    f"  WHERE hop.customer_id IS NOT NULL"
    f") "
    f"SELECT {_COLUMNS} FROM contacts "
    f"WHERE customer_id = ANY(CAST(:named AS text[])) "
    f"   OR customer_id IN (SELECT customer_id FROM linked) "
    f"ORDER BY customer_id FOR UPDATE"
)
_UPSERT = text(
    f"INSERT INTO contacts ({_COLUMNS}) "
    f"SELECT * FROM unnest(CAST(:customer_id AS text[]), CAST(:email AS text[]), "
    f"  CAST(:phone AS text[]), CAST(:first_name AS text[]), CAST(:last_name AS text[]), "
    f"  CAST(:accepts_marketing AS boolean[]), CAST(:merged_into AS text[]), "
    f"  CAST(:erased AS boolean[]), CAST(:version AS integer[]), "
    f"  CAST(:updated_at AS timestamptz[])) "
    f"ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, phone = excluded.phone, "
    f"  first_name = excluded.first_name, last_name = excluded.last_name, "
    f"  accepts_marketing = excluded.accepts_marketing, merged_into = excluded.merged_into, "
    f"  erased = excluded.erased, version = excluded.version, updated_at = excluded.updated_at"
)


async def get(*, session: AsyncSession, customer_id: str) -> Contact | None:
    # populate_existing: the statements below change rows behind the session's identity map.
    return await session.get(Contact, customer_id, populate_existing=True)


async def claim(*, session: AsyncSession, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Record `event_ids` as applied by `consumer` in the transaction that applies them; returns
    those not applied before."""
    claimed = await session.execute(
        _CLAIM, {"consumer": consumer, "event_ids": list(event_ids), "at": datetime.now(UTC)}
    )
    return set(claimed.scalars())


async def lock(
    *, session: AsyncSession, named: Iterable[str], linked: Iterable[str]
) -> list[ContactRow]:
    """The stored contacts of `named` and of everything merges link to `linked`, locked until
    the transaction ends."""
    rows = await session.execute(_LOCK, {"named": sorted(named), "linked": sorted(linked)})
    return [ContactRow(*row) for row in rows]


async def upsert(*, session: AsyncSession, contacts: Sequence[ContactRow]) -> None:
    """Store `contacts` as they are (the batch decided what changes, on rows it locked)."""
    if not contacts:
        return
    columns = {
        name: [getattr(contact, name) for contact in contacts]
        for name in ContactRow.__dataclass_fields__
    }
    await session.execute(_UPSERT, columns)
