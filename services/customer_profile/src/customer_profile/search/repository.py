import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    LargeBinary,
    Row,
    Select,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from customer_profile.attributes.models import CustomerAttributes, CustomerTag
from customer_profile.customers.models import Customer
from customer_profile.privacy import audit
from customer_profile.privacy.models import CustomerErasure
from customer_profile.search.models import STATS_INDEX, CustomerNameTerm
from customer_profile.search.stages import Branch

# Importing the models registered their tables (and the index); the names below are the tables.
_REGISTERED = (
    Customer,
    CustomerAttributes,
    CustomerErasure,
    CustomerNameTerm,
    CustomerTag,
    STATS_INDEX,
)
_customers = SQLModel.metadata.tables["customers"]
_identities = SQLModel.metadata.tables["customer_identities"]
_attributes = SQLModel.metadata.tables["customer_attributes"]
_terms = SQLModel.metadata.tables["customer_name_terms"]
_tags = SQLModel.metadata.tables["customer_tags"]
_erasures = SQLModel.metadata.tables["customer_erasures"]


# What a search shows of each customer (identities, RFM and addresses are the profile's), in
# the order of the rows' columns, `tags` and `traits` after them (`search.api` unpacks them).
SHOWN = (
    "customer_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "accepts_marketing",
    "orders_count",
    "total_spent",
    "currency",
    "first_order_at",
    "last_order_at",
    "version",
    "created_at",
    "updated_at",
    "merged_into",
)
ShownRow = Row[*tuple[Any, ...]]
_CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"
_DEFAULT_PLANS = "RESET plan_cache_mode"
# The bounds a stage branch can have: compared with a value, or only NULL / NOT NULL.
_BOUNDS = ("min_orders", "max_orders", "first_from", "first_before", "last_from", "last_before")
_NULL_CHECKS = ("first_missing", "last_missing", "has_dates")


class _Shape(NamedTuple):
    """What decides the search statement's SQL; the values are its parameters."""

    identities: int
    terms: int
    tags: int
    stage: tuple[tuple[str, ...], ...] | None
    """Per branch of the stage, the bounds and checks it has."""
    after: bool


async def search_page(
    *,
    session: AsyncSession,
    identities: Sequence[tuple[str, str, str]],
    terms: Sequence[bytes],
    tags: Sequence[str],
    stage: Sequence[Branch] | None,
    after: str | None,
    limit: int,
    shown: audit.Shown,
) -> list[ShownRow]:
    """The first `limit` customers after `after` (customer_id order) that are neither merged
    nor erased and match every filter: each identity (`(kind, store_id, digest)` as the
    identity table keys it), every name term, every tag, and one of the stage's branches; and
    the next one, if any, which tells that there is more (neither shown nor audited). Rows
    carry the `SHOWN` columns, `tags` and `traits`.

    One statement, which also writes the audit entry of every customer of the page (as
    `shown`): the page's ids first (from the indexes alone where they can answer), the audit
    entries from them, then their rows. It is its own transaction (autocommit), so the whole
    search is one round trip, no BEGIN or COMMIT, and the entries are committed whenever the
    page is found (before it is answered). Give it a session that has done nothing yet: in one
    already in a transaction it runs in that transaction (SQLAlchemy warns)."""
    shape = _Shape(
        len(identities),
        len(terms),
        len(tags),
        tuple(_branch_shape(branch) for branch in stage) if stage is not None else None,
        after is not None,
    )
    parameters: dict[str, Any] = {
        "fetched": limit + 1,
        "shown": limit,
        **audit.shown_parameters(shown),
    }
    if after is not None:
        parameters["after"] = after
    for index, (kind, store_id, value) in enumerate(identities):
        parameters |= {f"kind_{index}": kind, f"store_{index}": store_id, f"value_{index}": value}
    parameters |= {f"term_{index}": term for index, term in enumerate(terms)}
    parameters |= {f"tag_{index}": tag for index, tag in enumerate(tags)}
    for index, branch in enumerate(stage or ()):
        parameters |= {
            f"stage_{index}_{bound}": getattr(branch, bound)
            for bound in _BOUNDS
            if getattr(branch, bound) is not None
        }
    statement = _statement(shape)
    # Core rows on the session's connection: no ORM objects to build and track per customer.
    connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    if identities or len(terms) + len(tags) + (stage is not None) < 2:
        return list(await connection.execute(statement, parameters))
    # Two filters or more (no identity, which finds one customer at most): which index to walk
    # depends on how common each value is, and the generic plan PostgreSQL keeps for a prepared
    # statement after five executions guesses that from averages (rare pairs took 15 to 33 ms
    # instead of 2 to 5 at a million customers). Planned for its own values, this one only.
    await connection.exec_driver_sql(_CUSTOM_PLANS)
    try:
        return list(await connection.execute(statement, parameters))
    finally:
        # The connection goes back to the pool: its next statements plan as usual again.
        await connection.exec_driver_sql(_DEFAULT_PLANS)


def _branch_shape(branch: Branch) -> tuple[str, ...]:
    bounds = (bound for bound in _BOUNDS if getattr(branch, bound) is not None)
    return (*bounds, *(check for check in _NULL_CHECKS if getattr(branch, check)))


# Built once per shape, with its parameters bound at execution: building the statement and its
# cache key took 0.4 to 0.5 ms of CPU per request; a statement used again has its key memoised.
@functools.lru_cache(maxsize=512)
def _statement(shape: _Shape) -> Select[Any]:
    c = _customers.c
    page = select(c.customer_id).where(
        c.merged_into.is_(None), ~exists().where(_erasures.c.customer_id == c.customer_id)
    )
    for index in range(shape.identities):
        page = page.where(
            c.customer_id.in_(
                select(_identities.c.customer_id).where(
                    _identities.c.kind == bindparam(f"kind_{index}", type_=String),
                    _identities.c.store_id == bindparam(f"store_{index}", type_=String),
                    _identities.c.value == bindparam(f"value_{index}", type_=String),
                )
            )
        )
    for index in range(shape.terms):
        page = page.where(
            exists().where(
                _terms.c.term == bindparam(f"term_{index}", type_=LargeBinary),
                _terms.c.customer_id == c.customer_id,
            )
        )
    for index in range(shape.tags):
        page = page.where(
            exists().where(
                _tags.c.tag == bindparam(f"tag_{index}", type_=String),
                _tags.c.customer_id == c.customer_id,
            )
        )
    if shape.stage is not None:
        page = page.where(
            or_(*(_branch_clause(index, bounds) for index, bounds in enumerate(shape.stage)))
        )
    if shape.after:
        page = page.where(c.customer_id > bindparam("after", type_=String))
    # Referenced twice (the audit, the rows): PostgreSQL computes it once.
    ids = page.order_by(c.customer_id).limit(bindparam("fetched", type_=Integer)).cte("page")
    in_page = (
        select(ids.c.customer_id)
        .order_by(ids.c.customer_id)
        .limit(bindparam("shown", type_=Integer))
        .subquery("shown")
    )
    audited = audit.shown_entries(customer_ids=in_page.c.customer_id).cte("audit")
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
    return (
        select(*(c[name] for name in SHOWN), their_tags.label("tags"), their_traits.label("traits"))
        .join(ids, ids.c.customer_id == c.customer_id)
        .order_by(c.customer_id)
        .add_cte(audited)
    )


def _branch_clause(index: int, bounds: tuple[str, ...]) -> ColumnElement[bool]:
    """One branch of a stage (see `stages.Branch`) as a condition on `customers`, its values
    the parameters `stage_<index>_<bound>`."""
    c = _customers.c

    def value(bound: str, type_: Any) -> Any:
        return bindparam(f"stage_{index}_{bound}", type_=type_)

    at = DateTime(timezone=True)
    clauses: list[ColumnElement[bool]] = []
    if "min_orders" in bounds:
        clauses.append(c.orders_count >= value("min_orders", Integer))
    if "max_orders" in bounds:
        clauses.append(c.orders_count <= value("max_orders", Integer))
    if "first_missing" in bounds:
        clauses.append(c.first_order_at.is_(None))
    if "last_missing" in bounds:
        clauses.append(c.last_order_at.is_(None))
    if "has_dates" in bounds:
        clauses += [c.first_order_at.is_not(None), c.last_order_at.is_not(None)]
    if "first_from" in bounds:
        clauses.append(c.first_order_at >= value("first_from", at))
    if "first_before" in bounds:
        clauses.append(c.first_order_at < value("first_before", at))
    if "last_from" in bounds:
        clauses.append(c.last_order_at >= value("last_from", at))
    if "last_before" in bounds:
        clauses.append(c.last_order_at < value("last_before", at))
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
