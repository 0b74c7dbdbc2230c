"""Every query of segments: facts and owners, profiles, definitions and memberships. Batches
read and write set-based (arrays bound once per statement, whatever the batch's size)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from campaign.segments.events import FactRow
from campaign.segments.models import SegmentRow
from campaign.segments.state import Fact

# Ids as a recursion guard: a merge chain longer than this is no chain customer-profile makes.
_MAX_CHAIN = 64


@dataclass(frozen=True, slots=True)
class ProfileRow:
    customer_id: str
    profile: dict[str, Any]
    merged_into: str | None
    erased: bool


@dataclass(frozen=True, slots=True)
class MembershipRow:
    segment_id: str
    customer_id: str
    member: bool
    version: int
    changed_at: datetime
    next_check: datetime | None


_INSERT_FACTS = text(
    "INSERT INTO behaviour_facts (fact_id, owner_key, name, at, skus, total, currency, store_id) "
    "SELECT f.fact_id, f.owner_key, f.name, f.at, "
    "  CASE WHEN f.skus = '' THEN '{}'::text[] ELSE string_to_array(f.skus, chr(31)) END, "
    "  f.total, f.currency, f.store_id "
    "FROM unnest(CAST(:fact_id AS text[]), CAST(:owner_key AS text[]), CAST(:name AS text[]), "
    "  CAST(:at AS timestamptz[]), CAST(:skus AS text[]), CAST(:total AS numeric[]), "
    "  CAST(:currency AS text[]), CAST(:store_id AS text[])) "
    "  AS f(fact_id, owner_key, name, at, skus, total, currency, store_id) "
    "ON CONFLICT (fact_id) DO NOTHING RETURNING fact_id"
)
_OWNERS = text(
    "SELECT owner_key, customer_id FROM behaviour_owners "
    "WHERE owner_key = ANY(CAST(:keys AS text[]))"
)
_SET_OWNERS = text(
    "INSERT INTO behaviour_owners (owner_key, customer_id) "
    "SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:customers AS text[])) "
    "ON CONFLICT (owner_key) DO UPDATE SET customer_id = excluded.customer_id"
)
# Each id with the end of its merge chain (an id without a profile is its own survivor).
_SURVIVORS = text(
    "WITH RECURSIVE chain(start, customer_id, merged_into, depth) AS ("
    "  SELECT p.customer_id, p.customer_id, p.merged_into, 0 FROM segment_profiles p "
    "  WHERE p.customer_id = ANY(CAST(:ids AS text[])) "
    "  UNION ALL "
    "  SELECT c.start, p.customer_id, p.merged_into, c.depth + 1 FROM chain c "
    "  JOIN segment_profiles p ON p.customer_id = c.merged_into "
    "  WHERE c.depth < :max_chain"
    ") SELECT DISTINCT ON (start) start, customer_id FROM chain ORDER BY start, depth DESC"
)
# The customers merged into each id, down their chains (their behaviour is the survivor's).
_FAMILY = (
    "WITH RECURSIVE family(root, customer_id) AS ("
    "  SELECT id, id FROM unnest(CAST(:ids AS text[])) AS id "
    "  UNION "
    "  SELECT f.root, p.customer_id FROM family f "
    "  JOIN segment_profiles p ON p.merged_into = f.customer_id"
    ") "
)
_FACTS = text(
    _FAMILY + "SELECT f.root, b.name, b.at, b.skus, b.total, b.currency, b.store_id "
    "FROM family f JOIN behaviour_owners o ON o.customer_id = f.customer_id "
    "JOIN behaviour_facts b ON b.owner_key = o.owner_key"
)
_DESCENDANTS = text(_FAMILY + "SELECT customer_id FROM family")
_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(id, 7354023))) "
    "FROM (SELECT unnest(CAST(:ids AS text[])) AS id ORDER BY 1) AS ordered"
)
_PROFILES = text(
    "SELECT customer_id, profile, merged_into, erased FROM segment_profiles "
    "WHERE customer_id = ANY(CAST(:ids AS text[]))"
)
_UPSERT_PROFILE = text(
    "INSERT INTO segment_profiles (customer_id, profile, version, merged_into, erased) "
    "VALUES (:customer_id, CAST(:profile AS jsonb), :version, NULL, false) "
    "ON CONFLICT (customer_id) DO UPDATE "
    "SET profile = segment_profiles.profile || excluded.profile, version = excluded.version "
    "WHERE segment_profiles.version < excluded.version AND NOT segment_profiles.erased"
)
_ENSURE_PROFILES = text(
    "INSERT INTO segment_profiles (customer_id, profile, version, merged_into, erased) "
    "SELECT id, '{}'::jsonb, 0, NULL, false FROM unnest(CAST(:ids AS text[])) AS id "
    "ON CONFLICT DO NOTHING"
)
_SET_CONSENT = text(
    "UPDATE segment_profiles SET profile = jsonb_set(jsonb_set(profile, '{consent}', "
    "  COALESCE(profile->'consent', '{}'::jsonb) "
    "  || jsonb_build_object(CAST(:channel AS text), CAST(:status AS text))), "
    "  '{consent_at}', COALESCE(profile->'consent_at', '{}'::jsonb) "
    "  || jsonb_build_object(CAST(:channel AS text), CAST(:at AS text))) "
    "WHERE customer_id = :customer_id AND NOT erased "
    "  AND COALESCE(profile->'consent_at'->>CAST(:channel AS text), '') < CAST(:at AS text)"
)
_SET_MERGED_INTO = text(
    "UPDATE segment_profiles SET merged_into = :survivor WHERE customer_id = :customer_id"
)
_ERASE = text(
    "UPDATE segment_profiles SET profile = '{}'::jsonb, erased = true "
    "WHERE customer_id = ANY(CAST(:ids AS text[]))"
)
_FORGET_BEHAVIOUR = text(
    "WITH gone AS (DELETE FROM behaviour_owners WHERE customer_id = ANY(CAST(:ids AS text[])) "
    "  RETURNING owner_key) "
    "DELETE FROM behaviour_facts WHERE owner_key IN (SELECT owner_key FROM gone)"
)
_MEMBERSHIPS = text(
    "SELECT segment_id, customer_id, member, version, changed_at, next_check "
    "FROM segment_memberships WHERE customer_id = ANY(CAST(:ids AS text[]))"
)
_UPSERT_MEMBERSHIPS = text(
    "INSERT INTO segment_memberships "
    "  (segment_id, customer_id, member, version, changed_at, next_check) "
    "SELECT * FROM unnest(CAST(:segment_id AS text[]), CAST(:customer_id AS text[]), "
    "  CAST(:member AS boolean[]), CAST(:version AS integer[]), "
    "  CAST(:changed_at AS timestamptz[]), CAST(:next_check AS timestamptz[])) "
    "ON CONFLICT (segment_id, customer_id) DO UPDATE SET member = excluded.member, "
    "  version = excluded.version, changed_at = excluded.changed_at, "
    "  next_check = excluded.next_check"
)
_DELETE_MEMBERSHIPS = text(
    "DELETE FROM segment_memberships WHERE (segment_id, customer_id) IN "
    "(SELECT * FROM unnest(CAST(:segment_id AS text[]), CAST(:customer_id AS text[])))"
)
_DUE = text(
    "SELECT DISTINCT customer_id FROM ("
    "  SELECT customer_id FROM segment_memberships WHERE next_check <= :now "
    "  ORDER BY next_check LIMIT :limit) AS due"
)
_LIVE_CUSTOMERS = text(
    "SELECT customer_id FROM segment_profiles "
    "WHERE NOT erased AND merged_into IS NULL AND customer_id > :after "
    "ORDER BY customer_id LIMIT :limit"
)
_MEMBERS_OF = text(
    "SELECT customer_id FROM segment_memberships "
    "WHERE segment_id = :segment_id AND customer_id > :after "
    "ORDER BY customer_id LIMIT :limit"
)
_COUNT_MEMBERS = text(
    "SELECT segment_id, count(*) FROM segment_memberships "
    "WHERE member AND segment_id = ANY(CAST(:ids AS text[])) GROUP BY segment_id"
)


async def insert_facts(*, session: AsyncSession, facts: Sequence[FactRow]) -> set[str]:
    """Store the facts not stored yet; returns their ids."""
    if not facts:
        return set()
    inserted = await session.execute(
        _INSERT_FACTS,
        {
            "fact_id": [f.fact_id for f in facts],
            "owner_key": [f.owner_key for f in facts],
            "name": [f.name for f in facts],
            "at": [f.at for f in facts],
            # One text per fact: arrays of arrays must be rectangular in PostgreSQL.
            "skus": ["\x1f".join(f.skus) for f in facts],
            "total": [f.total for f in facts],
            "currency": [f.currency for f in facts],
            "store_id": [f.store_id for f in facts],
        },
    )
    return set(inserted.scalars())


async def owners(*, session: AsyncSession, keys: Iterable[str]) -> dict[str, str]:
    rows = await session.execute(_OWNERS, {"keys": sorted(set(keys))})
    return {row[0]: row[1] for row in rows}


async def set_owners(*, session: AsyncSession, owned: dict[str, str]) -> None:
    if owned:
        keys = sorted(owned)
        await session.execute(
            _SET_OWNERS, {"keys": keys, "customers": [owned[key] for key in keys]}
        )


async def survivors(*, session: AsyncSession, ids: Iterable[str]) -> dict[str, str]:
    """Each id's survivor (itself, unless merged)."""
    wanted = sorted(set(ids))
    rows = await session.execute(_SURVIVORS, {"ids": wanted, "max_chain": _MAX_CHAIN})
    found: dict[str, str] = {row[0]: row[1] for row in rows}
    return {customer_id: found.get(customer_id, customer_id) for customer_id in wanted}


async def descendants(*, session: AsyncSession, customer_id: str) -> set[str]:
    """The customer and every customer merged into it, down the chains."""
    rows = await session.execute(_DESCENDANTS, {"ids": [customer_id]})
    return set(rows.scalars())


async def lock_customers(*, session: AsyncSession, ids: Iterable[str]) -> None:
    """Serialise, until the transaction ends, every transaction re-evaluating these customers
    (taken in id order: two batches sharing customers wait for each other, never deadlock)."""
    await session.execute(_LOCK, {"ids": sorted(set(ids))})


async def profiles(*, session: AsyncSession, ids: Iterable[str]) -> dict[str, ProfileRow]:
    rows = await session.execute(_PROFILES, {"ids": sorted(set(ids))})
    return {row[0]: ProfileRow(*row) for row in rows.all()}


async def facts_of(*, session: AsyncSession, ids: Iterable[str]) -> dict[str, list[Fact]]:
    """Each customer's facts, with those of the customers merged into them."""
    rows = await session.execute(_FACTS, {"ids": sorted(set(ids))})
    found: dict[str, list[Fact]] = {}
    for root, name, at, skus, total, currency, store_id in rows.all():
        found.setdefault(root, []).append(Fact(name, at, tuple(skus), total, currency, store_id))
    return found


async def upsert_profile(
    *, session: AsyncSession, customer_id: str, profile: str, version: int
) -> None:
    """`profile` (JSON) when `version` is newer than the stored one; an erased customer stays so."""
    await session.execute(
        _UPSERT_PROFILE, {"customer_id": customer_id, "profile": profile, "version": version}
    )


async def ensure_profiles(*, session: AsyncSession, ids: Iterable[str]) -> None:
    await session.execute(_ENSURE_PROFILES, {"ids": sorted(set(ids))})


async def set_consent(
    *, session: AsyncSession, customer_id: str, channel: str, status: str, at: str
) -> None:
    """The channel's marketing consent, unless a decision taken later is stored."""
    await session.execute(
        _SET_CONSENT, {"customer_id": customer_id, "channel": channel, "status": status, "at": at}
    )


async def set_merged_into(*, session: AsyncSession, customer_id: str, survivor: str | None) -> None:
    await session.execute(_SET_MERGED_INTO, {"customer_id": customer_id, "survivor": survivor})


async def erase(*, session: AsyncSession, ids: Iterable[str]) -> None:
    """Blank the profiles and forget the behaviour of `ids`."""
    wanted = sorted(set(ids))
    await session.execute(_ERASE, {"ids": wanted})
    await session.execute(_FORGET_BEHAVIOUR, {"ids": wanted})


async def memberships(
    *, session: AsyncSession, ids: Iterable[str]
) -> dict[tuple[str, str], MembershipRow]:
    rows = await session.execute(_MEMBERSHIPS, {"ids": sorted(set(ids))})
    return {(row[0], row[1]): MembershipRow(*row) for row in rows.all()}


async def upsert_memberships(*, session: AsyncSession, rows: Sequence[MembershipRow]) -> None:
    if rows:
        await session.execute(
            _UPSERT_MEMBERSHIPS,
            {name: [getattr(row, name) for row in rows] for name in MembershipRow.__slots__},
        )


async def delete_memberships(*, session: AsyncSession, keys: Sequence[tuple[str, str]]) -> None:
    if keys:
        await session.execute(
            _DELETE_MEMBERSHIPS,
            {"segment_id": [k[0] for k in keys], "customer_id": [k[1] for k in keys]},
        )


async def due(*, session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Customers with a membership whose verdict time alone may have changed by `now`."""
    rows = await session.execute(_DUE, {"now": now, "limit": limit})
    return list(rows.scalars())


async def live_customers(*, session: AsyncSession, after: str, limit: int) -> list[str]:
    """The next `limit` customers after `after` (by id) that are neither merged nor erased."""
    rows = await session.execute(_LIVE_CUSTOMERS, {"after": after, "limit": limit})
    return list(rows.scalars())


async def member_rows_of(
    *, session: AsyncSession, segment_id: str, after: str, limit: int
) -> list[str]:
    """The next customers after `after` holding a membership row of the segment."""
    rows = await session.execute(
        _MEMBERS_OF, {"segment_id": segment_id, "after": after, "limit": limit}
    )
    return list(rows.scalars())


async def count_members(*, session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(_COUNT_MEMBERS, {"ids": list(ids)})
    return {row[0]: row[1] for row in rows}


async def segments(*, session: AsyncSession, include_deleted: bool = False) -> list[SegmentRow]:
    query = select(SegmentRow).order_by(SegmentRow.segment_id)
    if not include_deleted:
        query = query.where(SegmentRow.deleted == False)  # type: ignore[arg-type]  # noqa: E712
    return list((await session.execute(query.execution_options(populate_existing=True))).scalars())


async def segment(
    *, session: AsyncSession, segment_id: str, for_update: bool = False
) -> SegmentRow | None:
    return await session.get(
        SegmentRow, segment_id, populate_existing=True, with_for_update=for_update
    )


async def to_build(*, session: AsyncSession) -> SegmentRow | None:
    """A segment whose backfill (or, deleted, whose members' exits) is not done, locked; None
    when another replica holds each of them."""
    query = (
        select(SegmentRow)
        .where((SegmentRow.built_version < SegmentRow.version) | SegmentRow.deleted)  # type: ignore[arg-type]
        .order_by(SegmentRow.updated_at)  # type: ignore[arg-type]
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalars().first()
