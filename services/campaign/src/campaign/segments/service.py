"""Segments' rules: keeping behaviour and profiles in step with the topics, definitions, their
backfill, time passing, preview and explanation. No HTTP, no broker, no commit."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crm_events.customer import (
    CustomerConsentChanged,
    CustomerErased,
    CustomerIdentityLinked,
    CustomerMerged,
    CustomerOrderAttributed,
    CustomerSnapshot,
    CustomerUnmerged,
)
from sqlalchemy.ext.asyncio import AsyncSession

from campaign.contacts.repository import claim
from campaign.segments import repository
from campaign.segments.definition import Condition, references
from campaign.segments.evaluate import Verdict, evaluate
from campaign.segments.events import (
    CustomerChange,
    FactRow,
    identity_key,
    order_key,
    profile_of,
)
from campaign.segments.exceptions import InvalidDefinition
from campaign.segments.membership import GRAMMAR, Definitions, Refresh, announce, refresh
from campaign.segments.models import SegmentRow
from campaign.segments.repository import MembershipRow
from campaign.segments.state import CustomerState

CUSTOMERS_CONSUMER = "campaign.segments.customers"
# Customers evaluated per transaction by a backfill, a deletion or a preview.
CHUNK = 2000
DUE_PER_TRANSACTION = 1000
PREVIEW_SAMPLE = 20


@dataclass(frozen=True)
class CustomerEvent:
    event_id: str
    change: CustomerChange


async def apply_facts(
    *, session: AsyncSession, facts: Sequence[FactRow], now: datetime, topic: str
) -> None:
    """Store a batch of behaviour facts (a redelivered one changes nothing) and re-evaluate the
    customers they belong to, merges followed. Facts of owners not attributed yet wait for
    their attribution."""
    inserted = await repository.insert_facts(session=session, facts=facts)
    new = [fact for fact in facts if fact.fact_id in inserted]
    owned = await repository.owners(session=session, keys={fact.owner_key for fact in new})
    survivors = await repository.survivors(session=session, ids=owned.values())
    batch = Refresh()
    for fact in new:
        if fact.owner_key in owned:
            batch.add(survivors[owned[fact.owner_key]], fact.event_id)
    await refresh(session=session, refresh=batch, now=now, topic=topic)


async def apply_customer_changes(
    *, session: AsyncSession, events: Sequence[CustomerEvent], now: datetime, topic: str
) -> None:
    """Apply crm.customers.v1 changes in their order (profiles, consent, identities and order
    attributions, merges, undos, erasures), then re-evaluate every customer they touch."""
    claimed = await claim(
        session=session, consumer=CUSTOMERS_CONSUMER, event_ids=[e.event_id for e in events]
    )
    batch = Refresh()
    for event in events:
        if event.event_id not in claimed:
            continue
        claimed.discard(event.event_id)
        for customer_id in await _apply(session, event.change):
            batch.add(customer_id, event.event_id)
    survivors = await repository.survivors(session=session, ids=batch.customers)
    for customer_id, survivor in survivors.items():
        batch.add(survivor, batch.causes.get(customer_id))
    await refresh(session=session, refresh=batch, now=now, topic=topic)


async def _apply(session: AsyncSession, change: CustomerChange) -> set[str]:
    """Apply one change; returns the customers whose memberships it may move."""
    match change:
        case CustomerSnapshot():
            await repository.upsert_profile(
                session=session,
                customer_id=change.customer_id,
                profile=json.dumps(profile_of(change)),
                version=change.version,
            )
            owned = {identity_key(i): change.customer_id for i in change.identities}
            await repository.set_owners(session=session, owned=owned)
            return {change.customer_id}
        case CustomerIdentityLinked() | CustomerOrderAttributed():
            key = (
                identity_key(change.identity)
                if isinstance(change, CustomerIdentityLinked)
                else order_key(change.order_id)
            )
            await repository.ensure_profiles(session=session, ids=[change.customer_id])
            await repository.set_owners(session=session, owned={key: change.customer_id})
            return {change.customer_id}
        case CustomerConsentChanged():
            await repository.ensure_profiles(session=session, ids=[change.customer_id])
            await repository.set_consent(
                session=session,
                customer_id=change.customer_id,
                channel=change.channel.value,
                status=change.status.value,
                at=change.changed_at.isoformat(),
            )
            return {change.customer_id}
        case CustomerMerged():
            pair = [change.merged_id, change.survivor_id]
            await repository.ensure_profiles(session=session, ids=pair)
            await repository.set_merged_into(
                session=session, customer_id=change.merged_id, survivor=change.survivor_id
            )
            # The survivor's erasure travels on its own partition and may have come first.
            survivor = await repository.profiles(session=session, ids=[change.survivor_id])
            if survivor[change.survivor_id].erased:
                await _erase(session, change.merged_id)
            return set(pair)
        case CustomerUnmerged():
            await repository.set_merged_into(
                session=session, customer_id=change.merged_id, survivor=None
            )
            return {change.merged_id, change.survivor_id}
        case CustomerErased():
            return await _erase(session, change.customer_id)


async def _erase(session: AsyncSession, customer_id: str) -> set[str]:
    await repository.ensure_profiles(session=session, ids=[customer_id])
    erased = await repository.descendants(session=session, customer_id=customer_id)
    await repository.erase(session=session, ids=erased)
    return erased


async def run_due(*, session: AsyncSession, now: datetime, topic: str) -> int:
    """Re-evaluate a page of the customers time alone may have moved by `now`; returns how
    many there were (a full page: call again)."""
    due = await repository.due(session=session, now=now, limit=DUE_PER_TRANSACTION)
    batch = Refresh(customers=set(due))
    await refresh(session=session, refresh=batch, now=now, topic=topic)
    return len(due)


async def build_step(*, session: AsyncSession, now: datetime, topic: str) -> bool:
    """One chunk of a new or edited segment's backfill from stored state, or of a deleted
    segment's exits; False when no segment needs any."""
    segment = await repository.to_build(session=session)
    if segment is None:
        return False
    after = segment.build_cursor or ""
    if segment.deleted:
        customers = await repository.member_rows_of(
            session=session, segment_id=segment.segment_id, after=after, limit=CHUNK
        )
        await _exit_all(session, segment, customers, now, topic)
    else:
        customers = await repository.live_customers(session=session, after=after, limit=CHUNK)
        await refresh(
            session=session,
            refresh=Refresh(customers=set(customers)),
            now=now,
            topic=topic,
            only={segment.segment_id},
        )
    if customers:
        segment.build_cursor = customers[-1]
    elif segment.deleted:
        await session.delete(segment)
    else:
        segment.built_version, segment.build_cursor = segment.version, None
    await session.flush()
    return True


async def _exit_all(
    session: AsyncSession, segment: SegmentRow, customers: list[str], now: datetime, topic: str
) -> None:
    await repository.lock_customers(session=session, ids=customers)
    stored = await repository.memberships(session=session, ids=customers)
    rows = [row for (sid, _), row in stored.items() if sid == segment.segment_id]
    for row in rows:
        if row.member:
            exited = MembershipRow(
                row.segment_id, row.customer_id, False, row.version + 1, now, None
            )
            announce(session, exited, segment, {}, topic)
    await repository.delete_memberships(
        session=session, keys=[(row.segment_id, row.customer_id) for row in rows]
    )


async def create_segment(
    *, session: AsyncSession, name: str, definition: Condition, now: datetime
) -> SegmentRow:
    """A new segment; its members are computed from stored state in the background."""
    segment_id = uuid.uuid4().hex
    await _check_references(session, segment_id, definition)
    segment = SegmentRow(
        segment_id=segment_id,
        name=name,
        definition=_stored(definition),
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    await session.flush()
    return segment


async def update_segment(
    *,
    session: AsyncSession,
    segment_id: str,
    name: str | None,
    definition: Condition | None,
    now: datetime,
) -> SegmentRow | None:
    """Rename it or change its definition (recomputed from stored state: a new version)."""
    segment = await repository.segment(session=session, segment_id=segment_id, for_update=True)
    if segment is None or segment.deleted:
        return None
    if name is not None:
        segment.name = name
    if definition is not None and _stored(definition) != segment.definition:
        await _check_references(session, segment_id, definition)
        segment.definition = _stored(definition)
        segment.version += 1
        segment.build_cursor = None
    segment.updated_at = now
    await session.flush()
    return segment


async def delete_segment(*, session: AsyncSession, segment_id: str, now: datetime) -> bool:
    """Mark it deleted: its members exit in the background, then it is gone."""
    segment = await repository.segment(session=session, segment_id=segment_id, for_update=True)
    if segment is None or segment.deleted:
        return False
    segment.deleted, segment.build_cursor, segment.updated_at = True, None, now
    await session.flush()
    return True


async def get_segment(*, session: AsyncSession, segment_id: str) -> SegmentRow | None:
    segment = await repository.segment(session=session, segment_id=segment_id)
    return None if segment is None or segment.deleted else segment


async def list_segments(*, session: AsyncSession) -> list[SegmentRow]:
    return await repository.segments(session=session)


async def member_counts(*, session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    return await repository.count_members(session=session, ids=ids)


@dataclass(frozen=True)
class Preview:
    evaluated: int
    matching: int
    sample: list[str]


async def preview(*, session: AsyncSession, definition: Condition, now: datetime) -> Preview:
    """How many customers `definition` holds for now, and a few of them, without saving it."""
    await _check_references(session, None, definition)
    definitions = await Definitions.load(session)
    evaluated, matching, after = 0, 0, ""
    sample: list[str] = []
    while customers := await repository.live_customers(session=session, after=after, limit=CHUNK):
        profiles = await repository.profiles(session=session, ids=customers)
        facts = await repository.facts_of(session=session, ids=customers)
        for customer_id in customers:
            profile = profiles.get(customer_id)
            state = CustomerState(
                customer_id, profile.profile if profile else {}, facts.get(customer_id, ())
            )
            if evaluate(definition, state, now=now, segments=definitions.conditions).holds:
                matching += 1
                if len(sample) < PREVIEW_SAMPLE:
                    sample.append(customer_id)
        evaluated += len(customers)
        after = customers[-1]
    return Preview(evaluated, matching, sample)


@dataclass(frozen=True)
class Explanation:
    segment: SegmentRow
    customer_id: str
    member: bool
    verdict: Verdict


async def explain(
    *, session: AsyncSession, segment_id: str, customer_id: str, now: datetime
) -> Explanation | None:
    """Whether the customer (merges followed) belongs to the segment, and which of its
    conditions hold for them now and which do not; None for an unknown segment."""
    segment = await get_segment(session=session, segment_id=segment_id)
    if segment is None:
        return None
    survivor = (await repository.survivors(session=session, ids=[customer_id]))[customer_id]
    profiles = await repository.profiles(session=session, ids=[survivor])
    profile = profiles.get(survivor)
    gone = profile is not None and profile.erased
    facts = {} if gone else await repository.facts_of(session=session, ids=[survivor])
    state = CustomerState(survivor, profile.profile if profile else {}, facts.get(survivor, ()))
    definitions = await Definitions.load(session)
    verdict = evaluate(
        definitions.conditions[segment_id], state, now=now, segments=definitions.conditions
    )
    stored = await repository.memberships(session=session, ids=[survivor])
    row = stored.get((segment_id, survivor))
    return Explanation(segment, survivor, row is not None and row.member, verdict)


async def _check_references(
    session: AsyncSession, segment_id: str | None, definition: Condition
) -> None:
    """Refuse a definition naming unknown segments, or itself through others."""
    found = references(definition)
    if not found:
        return
    definitions = await Definitions.load(session)
    faults = [(at, f"no segment {named!r}") for at, named in found if named not in definitions.rows]
    faults += [
        (at, f"segment {named!r} leads back to this one")
        for at, named in found
        if named in definitions.rows and _leads_to(definitions, named, segment_id)
    ]
    if faults:
        raise InvalidDefinition(faults)


def _leads_to(definitions: Definitions, start: str, target: str | None) -> bool:
    if target is None:
        return False
    seen: set[str] = set()
    frontier = [start]
    while frontier:
        current = frontier.pop()
        if current == target:
            return True
        if current in seen or current not in definitions.conditions:
            continue
        seen.add(current)
        frontier.extend(named for _, named in references(definitions.conditions[current]))
    return False


def _stored(definition: Condition) -> dict[str, object]:
    stored: dict[str, object] = GRAMMAR.dump_python(definition, mode="json", exclude_none=True)
    return stored
