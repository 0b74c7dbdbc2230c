from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.attributes.models import CustomerAttributes, CustomerTag
from customer_profile.customers.models import Customer
from customer_profile.privacy.models import CustomerErasure
from customer_profile.search.models import STATS_INDEX, CustomerNameTerm
from customer_profile.search.stages import Branch

# Importing the models registered their tables (and the index); the names below are the tables.
_REGISTERED = (CustomerAttributes, CustomerErasure, CustomerNameTerm, CustomerTag, STATS_INDEX)
_customers = SQLModel.metadata.tables["customers"]
_identities = SQLModel.metadata.tables["customer_identities"]
_attributes = SQLModel.metadata.tables["customer_attributes"]
_terms = SQLModel.metadata.tables["customer_name_terms"]
_tags = SQLModel.metadata.tables["customer_tags"]
_erasures = SQLModel.metadata.tables["customer_erasures"]


class Row(NamedTuple):
    customer: Customer
    tags: list[str]
    traits: dict[str, Any]


async def search_page(
    *,
    session: AsyncSession,
    identities: Sequence[tuple[str, str, str]],
    terms: Sequence[bytes],
    tags: Sequence[str],
    stage: Sequence[Branch] | None,
    after: str | None,
    limit: int,
) -> list[Row]:
    """The first `limit` customers after `after` (customer_id order) that are neither merged
    nor erased and match every filter: each identity (`(kind, store_id, digest)` as the
    identity table keys it), every name term, every tag, and one of the stage's branches; with
    their tags and traits. One statement: the page's ids first (from the indexes alone where
    they can answer), then their rows."""
    c = _customers.c
    page = select(c.customer_id).where(
        c.merged_into.is_(None), ~exists().where(_erasures.c.customer_id == c.customer_id)
    )
    for kind, store_id, value in identities:
        page = page.where(
            c.customer_id.in_(
                select(_identities.c.customer_id).where(
                    _identities.c.kind == kind,
                    _identities.c.store_id == store_id,
                    _identities.c.value == value,
                )
            )
        )
    for term in terms:
        page = page.where(
            exists().where(_terms.c.term == term, _terms.c.customer_id == c.customer_id)
        )
    for tag in tags:
        page = page.where(exists().where(_tags.c.tag == tag, _tags.c.customer_id == c.customer_id))
    if stage is not None:
        page = page.where(or_(*(branch_clause(branch) for branch in stage)))
    if after is not None:
        page = page.where(c.customer_id > after)
    ids = page.order_by(c.customer_id).limit(limit).subquery("page")
    their_tags = (
        select(func.array_agg(aggregate_order_by(_tags.c.tag, _tags.c.tag)))
        .where(_tags.c.customer_id == c.customer_id)
        .scalar_subquery()
    )
    their_traits = (
        select(_attributes.c.traits)
        .where(_attributes.c.customer_id == c.customer_id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Customer, their_tags.label("tags"), their_traits.label("traits"))
        .join(ids, ids.c.customer_id == c.customer_id)
        .order_by(c.customer_id)
    )
    return [Row(customer, list(tags or ()), dict(traits or {})) for customer, tags, traits in rows]


def branch_clause(branch: Branch) -> ColumnElement[bool]:
    """One branch of a stage as a condition on `customers` (see `stages.Branch`)."""
    c = _customers.c
    clauses: list[ColumnElement[bool]] = []
    if branch.min_orders is not None:
        clauses.append(c.orders_count >= branch.min_orders)
    if branch.max_orders is not None:
        clauses.append(c.orders_count <= branch.max_orders)
    if branch.first_missing:
        clauses.append(c.first_order_at.is_(None))
    if branch.last_missing:
        clauses.append(c.last_order_at.is_(None))
    if branch.has_dates:
        clauses += [c.first_order_at.is_not(None), c.last_order_at.is_not(None)]
    if branch.first_from is not None:
        clauses.append(c.first_order_at >= branch.first_from)
    if branch.first_before is not None:
        clauses.append(c.first_order_at < branch.first_before)
    if branch.last_from is not None:
        clauses.append(c.last_order_at >= branch.last_from)
    if branch.last_before is not None:
        clauses.append(c.last_order_at < branch.last_before)
    return and_(true(), *clauses)


async def replace_terms(
    *, session: AsyncSession, terms: Mapping[str, Sequence[bytes] | set[bytes]]
) -> None:
    """Each customer of `terms` is found by exactly those terms from now on."""
    if not terms:
        return
    await delete_terms(session=session, customer_ids=list(terms))
    rows = [
        {"term": term, "customer_id": customer_id}
        for customer_id, theirs in terms.items()
        for term in sorted(theirs)
    ]
    if rows:
        await session.execute(insert(_terms), rows)


async def delete_terms(*, session: AsyncSession, customer_ids: Sequence[str]) -> None:
    if customer_ids:
        await session.execute(delete(_terms).where(_terms.c.customer_id.in_(list(customer_ids))))
