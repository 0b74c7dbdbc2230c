"""Searching customers: exact identities (through the identity table's keyed digests), name
prefixes (through the names blind index), tags and lifecycle stage, every filter given must
hold; pages in customer_id order, a cursor apart. A page shows each customer's contact data,
statistics, lifecycle stage, value tier, tags and traits; identities, RFM and addresses are on
the profile."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from crm_events.customer import IdentityKind
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes.rules import normalise_tag
from customer_profile.customers import repository as customers
from customer_profile.customers.exceptions import InvalidLookup
from customer_profile.customers.identities import IdentityKey, normalise_email, normalise_phone
from customer_profile.privacy.audit import Shown
from customer_profile.scoring.rules import LifecycleStage, ScoringRules, ValueTier
from customer_profile.search import cursors, names, repository, stages

FILTERS = ("email", "phone", "store_id", "external_id", "name", "tag", "stage")


@dataclass(frozen=True, slots=True)
class SearchFilters:
    email: str | None = None
    phone: str | None = None
    region: str | None = None
    """The region a local `phone` is dialled in."""
    store_id: str | None = None
    external_id: str | None = None
    """With `store_id`: the shop's customer id."""
    name: str | None = None
    """Words each starting the first or the last name."""
    tags: tuple[str, ...] = ()
    """Tags the customer has, every one of them."""
    stage: LifecycleStage | None = None


class Hit(NamedTuple):
    customer: repository.ShownRow
    """The `repository.SHOWN` columns, `tags` and `traits`."""
    lifecycle_stage: LifecycleStage
    value_tier: ValueTier | None


class SearchPage(NamedTuple):
    hits: list[Hit]
    next_cursor: str | None
    as_of: datetime
    """When the lifecycle stages of the search were evaluated (kept by the cursor)."""


async def search(
    *,
    session: AsyncSession,
    filters: SearchFilters,
    rules: ScoringRules,
    cursor: str | None,
    limit: int,
    now: datetime,
    shown: Shown,
) -> SearchPage:
    """One page of the customers matching every filter given (at least one is required), in
    customer_id order; merged and erased customers are never found. Every customer of the page
    is audited as `shown`, by the statement that finds them."""
    position = cursors.decode(cursor) if cursor is not None else None
    as_of = position.as_of if position is not None else now
    keys = identity_keys(filters)
    words = _name_words(filters.name)
    tags = _tags(filters.tags)
    if not (keys or words or tags or filters.stage):
        raise InvalidLookup(
            f"give at least one of {', '.join(FILTERS)}",
            [_error(name, "at least one filter is required") for name in FILTERS],
        )
    rows = await repository.search_page(
        session=session,
        identities=customers.identity_columns(keys),
        terms=names.query_terms(words),
        tags=tags,
        stage=(
            stages.branches(filters.stage, rules=rules.lifecycle, now=as_of)
            if filters.stage is not None
            else None
        ),
        after=position.after if position is not None else None,
        limit=limit,
        shown=shown,
    )
    page = rows[:limit]
    hits = [_hit(row, rules, as_of) for row in page]
    more = len(rows) > limit
    last = page[-1].customer_id if page else None
    next_cursor = cursors.encode(cursors.Position(last, as_of)) if more and last else None
    return SearchPage(hits, next_cursor, as_of)


def _hit(row: repository.ShownRow, rules: ScoringRules, now: datetime) -> Hit:
    return Hit(
        row,
        rules.lifecycle.stage(
            orders_count=row.orders_count,
            first_order_at=row.first_order_at,
            last_order_at=row.last_order_at,
            now=now,
        ),
        rules.tiers.tier(
            orders_count=row.orders_count, total_spent=row.total_spent, currency=row.currency
        ),
    )


def identity_keys(filters: SearchFilters) -> list[IdentityKey]:
    """The identities the filters name, normalised as identities are stored."""
    keys: list[IdentityKey] = []
    if filters.region is not None and filters.phone is None:
        raise InvalidLookup("region only applies to a phone", [_error("region", "no phone")])
    if filters.email is not None:
        email = normalise_email(filters.email)
        if email is None:
            raise InvalidLookup("email is not a valid address", [_error("email", "invalid email")])
        keys.append(IdentityKey(IdentityKind.EMAIL, email))
    if filters.phone is not None:
        phone = normalise_phone(filters.phone, region=filters.region)
        if phone is None:
            raise InvalidLookup(
                "phone is not a valid number (give +<country code>, or a region)",
                [_error("phone", "invalid phone number")],
            )
        keys.append(IdentityKey(IdentityKind.PHONE, phone))
    if filters.store_id is not None or filters.external_id is not None:
        pair = (("store_id", filters.store_id), ("external_id", filters.external_id))
        if not (filters.store_id and filters.external_id):
            raise InvalidLookup(
                "store_id and external_id go together, both non-empty",
                [_error(name, "required with the other") for name, value in pair if not value],
            )
        keys.append(IdentityKey(IdentityKind.STORE_REF, filters.external_id, filters.store_id))
    return keys


def _name_words(name: str | None) -> list[str]:
    if name is None:
        return []
    words = names.query_words(name)
    if not words:
        raise InvalidLookup(
            "name holds no letter or digit", [_error("name", "no word to search for")]
        )
    if len(words) > names.QUERY_WORDS_MAX:
        raise InvalidLookup(
            f"name takes at most {names.QUERY_WORDS_MAX} words",
            [_error("name", "too many words")],
        )
    return words


def _tags(raw: Sequence[str]) -> list[str]:
    tags = []
    for index, tag in enumerate(raw):
        try:
            tags.append(normalise_tag(tag))
        except ValueError as error:
            raise InvalidLookup(str(error), [_error(f"tag.{index}", str(error))]) from error
    return list(dict.fromkeys(tags))


def _error(name: str, message: str) -> dict[str, Any]:
    return {"field": f"query.{name}", "message": message, "type": "invalid_search"}
