"""Re-evaluating customers' memberships: the one path every cause takes (an event, time
passing, a new or edited segment, a merge or an erasure). Each change of a membership is stored
with the `crm.segment.entered` / `crm.segment.exited` event it owes, in the caller's
transaction."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from crm_common.outbox import add_event
from crm_events.segment import SEGMENT_ENTERED, SEGMENT_EXITED, SegmentEntered, SegmentExited
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from campaign.segments import repository
from campaign.segments.definition import Condition
from campaign.segments.evaluate import evaluate
from campaign.segments.models import SegmentRow
from campaign.segments.repository import MembershipRow
from campaign.segments.state import CustomerState

GRAMMAR: TypeAdapter[Condition] = TypeAdapter(Condition)


@dataclass(frozen=True)
class Definitions:
    """The live segments, their definitions parsed once per batch."""

    rows: dict[str, SegmentRow]
    conditions: dict[str, Condition]

    @classmethod
    async def load(cls, session: AsyncSession) -> "Definitions":
        rows = {row.segment_id: row for row in await repository.segments(session=session)}
        conditions = {sid: GRAMMAR.validate_python(row.definition) for sid, row in rows.items()}
        return cls(rows, conditions)


@dataclass
class Refresh:
    """Customers to re-evaluate, and the event that made each worth it (none for time)."""

    customers: set[str] = field(default_factory=set)
    causes: dict[str, str] = field(default_factory=dict)

    def add(self, customer_id: str, cause: str | None = None) -> None:
        self.customers.add(customer_id)
        if cause is not None:
            self.causes[customer_id] = cause


async def refresh(
    *,
    session: AsyncSession,
    refresh: Refresh,
    now: datetime,
    topic: str,
    only: Collection[str] | None = None,
    definitions: Definitions | None = None,
) -> int:
    """Re-evaluate `refresh.customers` in every live segment (or in `only`), storing and
    announcing each change; returns how many memberships changed. A customer merged away or
    erased belongs to nothing."""
    if not refresh.customers:
        return 0
    ids = sorted(refresh.customers)
    await repository.lock_customers(session=session, ids=ids)
    definitions = definitions or await Definitions.load(session)
    targets = [sid for sid in definitions.rows if only is None or sid in only]
    if not targets:
        return 0
    profiles = await repository.profiles(session=session, ids=ids)
    gone = {cid for cid, p in profiles.items() if p.erased or p.merged_into is not None}
    facts = await repository.facts_of(session=session, ids=[cid for cid in ids if cid not in gone])
    stored = await repository.memberships(session=session, ids=ids)
    rows: list[MembershipRow] = []
    changed = 0
    for customer_id in ids:
        profile = profiles.get(customer_id)
        state = CustomerState(
            customer_id, profile.profile if profile else {}, facts.get(customer_id, ())
        )
        for segment_id in targets:
            if customer_id in gone:
                holds, next_check = False, None
            else:
                verdict = evaluate(
                    definitions.conditions[segment_id],
                    state,
                    now=now,
                    segments=definitions.conditions,
                )
                holds, next_check = verdict.holds, verdict.next_change
            previous = stored.get((segment_id, customer_id))
            row = _next_row(segment_id, customer_id, previous, holds, next_check, now)
            if row is None:
                continue
            rows.append(row)
            if row.version != (previous.version if previous else 0):
                changed += 1
                announce(session, row, definitions.rows[segment_id], refresh.causes, topic)
    await repository.upsert_memberships(session=session, rows=rows)
    return changed


def _next_row(
    segment_id: str,
    customer_id: str,
    current: MembershipRow | None,
    holds: bool,
    next_check: datetime | None,
    now: datetime,
) -> MembershipRow | None:
    """The row to store, None when nothing changes (nor needs keeping)."""
    was = current is not None and current.member
    if holds != was:
        version = (current.version if current else 0) + 1
        return MembershipRow(segment_id, customer_id, holds, version, now, next_check)
    if current is None:
        if next_check is None:
            return None
        return MembershipRow(segment_id, customer_id, False, 0, now, next_check)
    if current.next_check == next_check:
        return None
    return MembershipRow(
        segment_id, customer_id, current.member, current.version, current.changed_at, next_check
    )


def announce(
    session: AsyncSession,
    row: MembershipRow,
    segment: SegmentRow,
    causes: Mapping[str, str],
    topic: str,
) -> None:
    model = SegmentEntered if row.member else SegmentExited
    contract = SEGMENT_ENTERED if row.member else SEGMENT_EXITED
    data = model(
        segment_id=row.segment_id,
        segment_name=segment.name,
        customer_id=row.customer_id,
        changed_at=row.changed_at,
        cause_event_id=causes.get(row.customer_id),
        version=row.version,
    )
    add_event(session, topic=topic, key=row.customer_id, event=contract.event(data))
