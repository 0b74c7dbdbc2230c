from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Insert,
    String,
    bindparam,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.consents.models import ConsentLogEntry, CustomerConsent
from customer_profile.customers.models import (
    CustomerIdentity,
    CustomerOrder,
    IdentitySighting,
)
from customer_profile.merges.models import MergeLogEntry, MergeSuggestion
from customer_profile.privacy.models import AuditEntry, CustomerErasure

# Importing the models registered their tables; the names below say which tables erasure touches.
_REGISTERED = (
    ConsentLogEntry,
    CustomerConsent,
    CustomerIdentity,
    CustomerOrder,
    IdentitySighting,
    MergeLogEntry,
    MergeSuggestion,
)
_erasures = SQLModel.metadata.tables["customer_erasures"]
_audit = SQLModel.metadata.tables["audit_log"]
_identities = SQLModel.metadata.tables["customer_identities"]
_orders = SQLModel.metadata.tables["customer_orders"]
_consents = SQLModel.metadata.tables["customer_consents"]
_consent_log = SQLModel.metadata.tables["consent_log"]
_merge_log = SQLModel.metadata.tables["merge_log"]
_suggestions = SQLModel.metadata.tables["merge_suggestions"]
_sightings = SQLModel.metadata.tables["identity_sightings"]

# Columns through which a row of any table can name a customer.
CUSTOMER_COLUMNS = ("customer_id", "survivor_id", "merged_id")


def add_audit_entries(*, session: AsyncSession, entries: Sequence[AuditEntry]) -> None:
    session.add_all(entries)


def audit_entries(*, customer_ids: ColumnElement[str]) -> Insert:
    """An INSERT of one entry per customer id `customer_ids` selects, the entries' time, actor
    and action bound at execution (`audit_at`, `audit_actor`, `audit_action`): run inside the
    statement that reads the customers (a search page), the read and its audit are one round
    trip and one transaction."""
    return insert(_audit).from_select(
        ["at", "actor", "action", "customer_id"],
        select(
            bindparam("audit_at", type_=DateTime(timezone=True)),
            bindparam("audit_actor", type_=String),
            bindparam("audit_action", type_=String),
            customer_ids,
        ),
    )


async def get_erasure(*, session: AsyncSession, customer_id: str) -> CustomerErasure | None:
    return await session.get(CustomerErasure, customer_id)


async def erased_among(*, session: AsyncSession, customer_ids: Sequence[str]) -> set[str]:
    if not customer_ids:
        return set()
    rows = await session.execute(
        select(_erasures.c.customer_id).where(_erasures.c.customer_id.in_(customer_ids))
    )
    return set(rows.scalars())


def add_erasure(*, session: AsyncSession, erasure: CustomerErasure) -> None:
    session.add(erasure)


async def merged_into_chain(*, session: AsyncSession, customer_id: str) -> list[str]:
    """Every customer merged into `customer_id`, directly or through others, nearest first."""
    rows = await session.execute(
        text(
            "WITH RECURSIVE chain(customer_id, depth) AS ("
            " SELECT customer_id, 1 FROM customers WHERE merged_into = :id"
            " UNION ALL"
            " SELECT c.customer_id, chain.depth + 1 FROM customers c"
            " JOIN chain ON c.merged_into = chain.customer_id"
            ") SELECT customer_id FROM chain ORDER BY depth, customer_id"
        ),
        {"id": customer_id},
    )
    return list(rows.scalars())


async def delete_identities(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    await session.execute(delete(_identities).where(_identities.c.customer_id.in_(customer_ids)))


async def blank_order_contacts(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """The orders stay (their amounts feed the statistics); who bought them goes."""
    await session.execute(
        update(_orders)
        .where(_orders.c.customer_id.in_(customer_ids))
        .values(email=None, phone=None, first_name=None, last_name=None, accepts_marketing=False)
    )


async def blank_consent_proofs(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    for table in (_consents, _consent_log):
        await session.execute(
            update(table).where(table.c.customer_id.in_(customer_ids)).values(proof=None)
        )


async def merge_log_of(
    *, session: AsyncSession, customer_ids: Sequence[str]
) -> list[MergeLogEntry]:
    rows = await session.execute(
        select(MergeLogEntry)
        .where(
            _merge_log.c.survivor_id.in_(customer_ids) | _merge_log.c.merged_id.in_(customer_ids)
        )
        .order_by(_merge_log.c.seq)
    )
    return list(rows.scalars())


async def delete_suggestions(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    """Suggestions to merge with an erased customer: they name its identity, and there is no one
    left to merge."""
    await session.execute(
        delete(_suggestions).where(
            _suggestions.c.survivor_id.in_(customer_ids)
            | _suggestions.c.merged_id.in_(customer_ids)
        )
    )


async def delete_sightings(*, session: AsyncSession, digests: Sequence[str]) -> None:
    if digests:
        await session.execute(
            delete(_sightings).where(
                _sightings.c.identity_digest.in_(digests) | _sightings.c.partner_digest.in_(digests)
            )
        )


async def tables_naming_customers(*, session: AsyncSession) -> dict[str, list[str]]:
    """Every table of the service's schema with a column that names a customer, and which."""
    rows = await session.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name IN :names "
            "ORDER BY table_name, ordinal_position"
        ).bindparams(bindparam("names", expanding=True)),
        {"names": list(CUSTOMER_COLUMNS)},
    )
    found: dict[str, list[str]] = {}
    for table, column in rows.all():
        found.setdefault(table, []).append(column)
    return found


async def rows_naming(
    *, session: AsyncSession, table: str, columns: Sequence[str], customer_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of `table` whose `columns` name one of `customer_ids`.

    `table` and `columns` come from the catalogue (`tables_naming_customers`), never from a
    caller, and are quoted as identifiers all the same. A table the models declare is read
    through them, so that its encrypted columns come back decrypted.
    """
    declared = SQLModel.metadata.tables.get(table)
    if declared is not None and all(column in declared.c for column in columns):
        found = await session.execute(
            select(declared).where(or_(*(declared.c[c].in_(customer_ids) for c in columns)))
        )
        return [dict(row) for row in found.mappings()]
    quoted = _identifier(table)
    condition = " OR ".join(f"{_identifier(column)} IN :ids" for column in columns)
    rows = await session.execute(
        text(f"SELECT * FROM {quoted} WHERE {condition}").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": list(customer_ids)},
    )
    return [dict(row) for row in rows.mappings()]


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
