"""SLA clocks: where a ticket stands against its policy's targets, from its timeline alone.

`evaluate` is a pure function of the timeline, the targets, the calendar and `now`; nothing is
carried over from an earlier evaluation. Changing a ticket's policy (or its targets, or the
calendar) is evaluating again with the new ones: the targets count from the ticket's creation as
if the new policy had always applied, and a due or warning instant already past is due at once.

- The timeline is read as of `now`: events after `now` are ignored, a pause still going on at
  `now` (or ending after it) is open.
- A clock counts the business time of its calendar from its start, except while the ticket is
  paused (pending, on hold): a pause moves the due instant on by the business time it covers,
  and one covering no business time (a night, a weekend) changes nothing.
- `due_at` is the instant the target is used up, which is the breach: a clock stopped before it
  met its target, one stopped at or after it, or still running at it, breached it. While a pause
  holds a clock before its target is used up, `due_at` is unknown (None).
- The warning comes when `warning_lead` of BUSINESS time is left, so that it reaches agents
  while they are at work (a 1-hour lead before a due at Monday 10:00 in a team opening at 09:00
  warns on the previous working day).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from support_ticket.sla.calendar import BusinessCalendar
from support_ticket.sla.policies import SlaTargets


@dataclass(frozen=True)
class Pause:
    """The ticket was pending or on hold from `start` to `end` (None: still is)."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        _aware(self.start, self.end)
        if self.end is not None and self.end < self.start:
            raise ValueError("a pause ending before it starts")


@dataclass(frozen=True)
class Timeline:
    """What the SLA clocks of one ticket depend on."""

    created_at: datetime
    pauses: Sequence[Pause] = ()
    """In any order, overlapping or not."""
    first_reply_at: datetime | None = None
    """The first public reply of an agent."""
    customer_waiting_since: datetime | None = None
    """The first customer message after the last public reply of an agent; None when every
    customer message has been answered."""
    solved_at: datetime | None = None
    """None while the ticket is open (also once reopened)."""

    def __post_init__(self) -> None:
        _aware(self.created_at, self.first_reply_at, self.customer_waiting_since, self.solved_at)


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


@dataclass(frozen=True)
class ClockStatus:
    """One target of one ticket at one instant."""

    target: timedelta
    started_at: datetime
    stopped_at: datetime | None
    """When the awaited reply or resolution came; None while awaited."""
    due_at: datetime | None
    """The breach instant; None while paused before the target is used up."""
    warn_at: datetime | None
    """None without a warning lead, or while paused before reaching it."""
    elapsed: timedelta
    """Business time counted, up to the stop or `now`."""
    remaining: timedelta
    """`target - elapsed`: negative past due."""
    state: ClockState
    warning: bool
    """The warning instant has passed and the target is neither met nor breached."""


@dataclass(frozen=True)
class SlaStatus:
    """The clocks of one ticket at `at`; a target the policy lacks, or a clock that has not
    started (no customer waiting for a next response), is None."""

    at: datetime
    first_response: ClockStatus | None
    next_response: ClockStatus | None
    resolution: ClockStatus | None
    clocks: tuple[ClockStatus, ...] = field(init=False)

    def __post_init__(self) -> None:
        clocks = (self.first_response, self.next_response, self.resolution)
        object.__setattr__(self, "clocks", tuple(c for c in clocks if c is not None))

    @property
    def next_alert_at(self) -> datetime | None:
        """The earliest warning or breach instant after `at` of a running clock: when to
        evaluate again, unless the timeline changes first."""
        upcoming = [
            instant
            for clock in self.clocks
            if clock.state is ClockState.RUNNING
            for instant in (clock.warn_at, clock.due_at)
            if instant is not None and instant > self.at
        ]
        return min(upcoming, default=None)


def evaluate(
    *, timeline: Timeline, targets: SlaTargets, calendar: BusinessCalendar, now: datetime
) -> SlaStatus:
    """The ticket's SLA clocks at `now`, computed afresh from its timeline (see the module)."""
    _aware(now)
    segments = _Segments(calendar=calendar, pauses=_as_of(timeline.pauses, now))
    known = _Known(timeline, now)
    lead = targets.warning_lead

    first_response = None
    if targets.first_response is not None:
        stops = [known.first_reply_at, known.solved_at]
        first_response = segments.clock(
            start=timeline.created_at,
            stop=min((s for s in stops if s is not None), default=None),
            target=targets.first_response,
            lead=lead,
            now=now,
        )
    next_response = None
    waiting = known.customer_waiting_since
    if (
        targets.next_response is not None
        and known.first_reply_at is not None
        and waiting is not None
        and waiting > known.first_reply_at
    ):
        next_response = segments.clock(
            start=waiting,
            stop=known.solved_at if known.solved_at and known.solved_at >= waiting else None,
            target=targets.next_response,
            lead=lead,
            now=now,
        )
    resolution = None
    if targets.resolution is not None:
        resolution = segments.clock(
            start=timeline.created_at,
            stop=known.solved_at,
            target=targets.resolution,
            lead=lead,
            now=now,
        )
    return SlaStatus(
        at=now, first_response=first_response, next_response=next_response, resolution=resolution
    )


class _Known:
    """The timeline's events that happened by `now`."""

    def __init__(self, timeline: Timeline, now: datetime) -> None:
        def by_now(at: datetime | None) -> datetime | None:
            return at if at is not None and at <= now else None

        self.first_reply_at = by_now(timeline.first_reply_at)
        self.customer_waiting_since = by_now(timeline.customer_waiting_since)
        self.solved_at = by_now(timeline.solved_at)


def _as_of(pauses: Sequence[Pause], now: datetime) -> list[Pause]:
    """The pauses begun by `now`, merged, in order; one going on at `now` is open."""
    merged: list[Pause] = []
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.start > now:
            break
        end = pause.end if pause.end is not None and pause.end <= now else None
        if merged and (merged[-1].end is None or merged[-1].end >= pause.start):
            last = merged.pop()
            end = None if last.end is None or end is None else max(last.end, end)
            merged.append(Pause(last.start, end))
        else:
            merged.append(Pause(pause.start, end))
    return merged


@dataclass(frozen=True)
class _Segments:
    """Counts business time outside the pauses."""

    calendar: BusinessCalendar
    pauses: list[Pause]

    def clock(
        self,
        *,
        start: datetime,
        stop: datetime | None,
        target: timedelta,
        lead: timedelta | None,
        now: datetime,
    ) -> ClockStatus:
        running = self._running(start)
        if stop is not None:
            stop = max(stop, start)
        counted_until = max(stop or now, start)
        elapsed = sum(
            (
                self.calendar.business_time_between(begin, min(end or counted_until, counted_until))
                for begin, end in running
                if begin < counted_until
            ),
            timedelta(0),
        )
        due_at = self._reached(running, target)
        warn_at = None if lead is None else self._reached(running, max(target - lead, timedelta(0)))
        if stop is not None:
            state = ClockState.MET if due_at is None or stop < due_at else ClockState.BREACHED
        elif due_at is not None and now >= due_at:
            state = ClockState.BREACHED
        elif running and running[-1][1] is None:
            state = ClockState.RUNNING
        else:
            state = ClockState.PAUSED
        return ClockStatus(
            target=target,
            started_at=start,
            stopped_at=stop,
            due_at=due_at,
            warn_at=warn_at,
            elapsed=elapsed,
            remaining=target - elapsed,
            state=state,
            warning=(
                warn_at is not None
                and warn_at <= now
                and state in (ClockState.RUNNING, ClockState.PAUSED)
            ),
        )

    def _running(self, start: datetime) -> list[tuple[datetime, datetime | None]]:
        """The stretches from `start` outside the pauses; the last is open-ended unless a pause
        is going on."""
        stretches: list[tuple[datetime, datetime | None]] = []
        cursor = start
        for pause in self.pauses:
            if pause.end is not None and pause.end <= cursor:
                continue
            if pause.start > cursor:
                stretches.append((cursor, pause.start))
            if pause.end is None:
                return stretches
            cursor = max(cursor, pause.end)
        stretches.append((cursor, None))
        return stretches

    def _reached(
        self, running: list[tuple[datetime, datetime | None]], amount: timedelta
    ) -> datetime | None:
        """The earliest instant at which `amount` of unpaused business time has elapsed."""
        remaining = amount
        for begin, end in running:
            covered = None if end is None else self.calendar.business_time_between(begin, end)
            if covered is None or remaining <= covered:
                return self.calendar.add_business_time(begin, remaining)
            remaining -= covered
        return None


def _aware(*instants: datetime | None) -> None:
    if any(at is not None and at.utcoffset() is None for at in instants):
        raise ValueError("instants must be timezone-aware")
