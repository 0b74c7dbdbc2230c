"""SLA clocks of ticket timelines, against instants worked out by hand.

Unless said otherwise the calendar is Monday to Friday 09:00-17:00 UTC; 2026-01-12 is a Monday.
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support_ticket.sla.calendar import BusinessCalendar, CalendarDefinition
from support_ticket.sla.clock import ClockState, ClockStatus, Pause, Timeline, evaluate
from support_ticket.sla.policies import SlaTargets

H = timedelta(hours=1)
US = timedelta(microseconds=1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def office(zone: str = "UTC", days: tuple[str, ...] = WEEKDAYS) -> BusinessCalendar:
    hours = [{"weekday": d, "start": "09:00", "end": "17:00"} for d in days]
    return BusinessCalendar(CalendarDefinition(time_zone=zone, opening_hours=hours))


OFFICE = office()


def targets(**hours: float) -> SlaTargets:
    return SlaTargets.model_validate({f"{k}_seconds": int(v * 3600) for k, v in hours.items()})


def status(timeline: Timeline, now: datetime, calendar: BusinessCalendar = OFFICE, **hours: float):
    return evaluate(timeline=timeline, targets=targets(**hours), calendar=calendar, now=now)


class TestFirstResponse:
    created = utc(2026, 1, 12, 16)

    def test_due_counts_business_time_only(self):
        clock = status(Timeline(self.created), utc(2026, 1, 13, 10), first_response=4)
        first = clock.first_response

        assert first is not None
        assert first.due_at == utc(2026, 1, 13, 12)
        assert first.elapsed == 2 * H
        assert first.remaining == 2 * H
        assert first.state is ClockState.RUNNING
        assert clock.resolution is None

    def test_a_reply_before_due_meets_it(self):
        timeline = Timeline(self.created, first_reply_at=utc(2026, 1, 13, 11, 59))
        first = status(timeline, utc(2026, 1, 14), first_response=4).first_response

        assert first is not None
        assert first.state is ClockState.MET
        assert first.stopped_at == utc(2026, 1, 13, 11, 59)
        assert first.elapsed == 3 * H + 59 * timedelta(minutes=1)

    def test_a_reply_at_the_due_instant_is_late(self):
        timeline = Timeline(self.created, first_reply_at=utc(2026, 1, 13, 12))

        first = status(timeline, utc(2026, 1, 14), first_response=4).first_response

        assert first is not None
        assert first.state is ClockState.BREACHED

    def test_without_a_reply_it_breaches_at_the_due_instant(self):
        before = status(Timeline(self.created), utc(2026, 1, 13, 12) - US, first_response=4)
        at = status(Timeline(self.created), utc(2026, 1, 13, 12), first_response=4)
        later = status(Timeline(self.created), utc(2026, 1, 13, 13), first_response=4)

        assert before.first_response
        assert before.first_response.state is ClockState.RUNNING
        assert at.first_response
        assert at.first_response.state is ClockState.BREACHED
        assert later.first_response is not None
        assert later.first_response.elapsed == 5 * H
        assert later.first_response.remaining == -H

    def test_solving_without_a_reply_stops_it(self):
        timeline = Timeline(self.created, solved_at=utc(2026, 1, 13, 10))

        first = status(timeline, utc(2026, 1, 20), first_response=4).first_response

        assert first is not None
        assert first.state is ClockState.MET
        assert first.stopped_at == utc(2026, 1, 13, 10)

    def test_events_after_now_are_not_known_yet(self):
        timeline = Timeline(self.created, first_reply_at=utc(2026, 1, 13, 11))

        first = status(timeline, utc(2026, 1, 13, 10), first_response=4).first_response

        assert first is not None
        assert first.state is ClockState.RUNNING
        assert first.stopped_at is None


class TestPauses:
    created = utc(2026, 1, 16, 15)  # Friday

    def test_a_pause_over_the_night_and_weekend_moves_due_by_the_business_time_it_covered(self):
        # Pending Friday 16:00 to Monday 11:00 covers 1 + 2 business hours.
        timeline = Timeline(
            self.created, pauses=[Pause(utc(2026, 1, 16, 16), utc(2026, 1, 19, 11))]
        )

        resolution = status(timeline, utc(2026, 1, 19, 12), resolution=8).resolution

        assert resolution is not None
        assert resolution.elapsed == 2 * H
        assert resolution.due_at == utc(2026, 1, 20, 10)
        assert resolution.state is ClockState.RUNNING

    def test_pauses_outside_business_hours_change_nothing(self):
        pauses = [
            Pause(utc(2026, 1, 17, 10), utc(2026, 1, 18, 20)),
            Pause(utc(2026, 1, 19, 18), utc(2026, 1, 20, 8)),
        ]
        paused = status(Timeline(self.created, pauses=pauses), utc(2026, 1, 20, 12), resolution=16)
        plain = status(Timeline(self.created), utc(2026, 1, 20, 12), resolution=16)

        # Friday 15-17, Monday 9-17, Tuesday 9-15.
        assert paused.resolution
        assert paused.resolution.due_at == utc(2026, 1, 20, 15)
        assert plain.resolution
        assert plain.resolution.due_at == utc(2026, 1, 20, 15)

    def test_a_pause_ending_outside_business_hours_counts_up_to_the_closing(self):
        timeline = Timeline(
            self.created, pauses=[Pause(utc(2026, 1, 16, 16), utc(2026, 1, 17, 12))]
        )

        resolution = status(timeline, utc(2026, 1, 19, 9), resolution=8).resolution

        assert resolution is not None
        assert resolution.due_at == utc(2026, 1, 19, 16)

    def test_a_pause_going_on_holds_the_clock(self):
        created = utc(2026, 1, 12, 9)
        going_on = Timeline(created, pauses=[Pause(utc(2026, 1, 12, 11))])
        ended = Timeline(created, pauses=[Pause(utc(2026, 1, 12, 11), utc(2026, 1, 13, 13))])

        held = status(going_on, utc(2026, 1, 13, 12), resolution=8, warning_lead=1)
        resumed = status(ended, utc(2026, 1, 13, 14), resolution=8)

        assert held.resolution is not None
        assert held.resolution.state is ClockState.PAUSED
        assert held.resolution.due_at is None
        assert held.resolution.warn_at is None
        assert held.resolution.elapsed == 2 * H
        assert held.next_alert_at is None
        # 2 h before, then Tuesday 13-17 and Wednesday 9-11.
        assert resumed.resolution
        assert resumed.resolution.due_at == utc(2026, 1, 14, 11)
        assert resumed.resolution.elapsed == 3 * H

    def test_a_pause_ending_after_now_is_still_going_on(self):
        created = utc(2026, 1, 12, 9)
        timeline = Timeline(created, pauses=[Pause(utc(2026, 1, 12, 11), utc(2026, 1, 14))])

        resolution = status(timeline, utc(2026, 1, 13, 12), resolution=8).resolution

        assert resolution
        assert resolution.state is ClockState.PAUSED

    def test_a_pause_after_the_target_was_used_up_is_a_breach(self):
        timeline = Timeline(utc(2026, 1, 12, 9), pauses=[Pause(utc(2026, 1, 12, 11))])

        first = status(timeline, utc(2026, 1, 12, 12), first_response=1).first_response

        assert first is not None
        assert first.state is ClockState.BREACHED
        assert first.due_at == utc(2026, 1, 12, 10)

    def test_solved_while_paused_meets_the_targets(self):
        timeline = Timeline(
            utc(2026, 1, 12, 9), pauses=[Pause(utc(2026, 1, 12, 10))], solved_at=utc(2026, 1, 20)
        )

        clocks = status(timeline, utc(2026, 1, 21), first_response=4, resolution=8)

        assert clocks.first_response
        assert clocks.first_response.state is ClockState.MET
        assert clocks.resolution
        assert clocks.resolution.state is ClockState.MET
        assert clocks.resolution.elapsed == H

    def test_overlapping_pauses_in_any_order_count_once(self):
        pauses = [
            Pause(utc(2026, 1, 17), utc(2026, 1, 19, 11)),
            Pause(utc(2026, 1, 16, 16), utc(2026, 1, 19, 10)),
        ]
        timeline = Timeline(self.created, pauses=pauses)

        resolution = status(timeline, utc(2026, 1, 19, 12), resolution=8).resolution

        assert resolution
        assert resolution.due_at == utc(2026, 1, 20, 10)


class TestNextResponse:
    created = utc(2026, 1, 12, 9)

    def test_it_runs_from_the_waiting_customer_message(self):
        timeline = Timeline(
            self.created,
            first_reply_at=utc(2026, 1, 12, 10),
            customer_waiting_since=utc(2026, 1, 12, 16),
        )

        clocks = status(timeline, utc(2026, 1, 13, 9, 30), next_response=2)

        assert clocks.next_response is not None
        assert clocks.next_response.started_at == utc(2026, 1, 12, 16)
        assert clocks.next_response.due_at == utc(2026, 1, 13, 10)
        assert clocks.next_response.state is ClockState.RUNNING

    def test_no_clock_while_nobody_waits_or_before_the_first_reply(self):
        answered = Timeline(self.created, first_reply_at=utc(2026, 1, 12, 10))
        unanswered = Timeline(self.created, customer_waiting_since=utc(2026, 1, 12, 9, 30))

        assert status(answered, utc(2026, 1, 13), next_response=2).next_response is None
        assert status(unanswered, utc(2026, 1, 13), next_response=2).next_response is None


class TestWarning:
    def test_the_lead_is_business_time(self):
        # Created Friday 15:00, due Monday 10:00: two business hours before is Friday 16:00.
        timeline = Timeline(utc(2026, 1, 16, 15))

        before = status(timeline, utc(2026, 1, 16, 15, 30), first_response=3, warning_lead=2)
        after = status(timeline, utc(2026, 1, 17), first_response=3, warning_lead=2)

        assert before.first_response
        assert before.first_response.due_at == utc(2026, 1, 19, 10)
        assert before.first_response.warn_at == utc(2026, 1, 16, 16)
        assert not before.first_response.warning
        assert after.first_response
        assert after.first_response.warning

    def test_a_lead_as_long_as_the_target_warns_at_the_start(self):
        timeline = Timeline(utc(2026, 1, 12, 9))

        clocks = status(timeline, utc(2026, 1, 12, 9), first_response=1, warning_lead=2)

        assert clocks.first_response
        assert clocks.first_response.warn_at == utc(2026, 1, 12, 9)

    def test_the_next_alert_is_the_earliest_warning_or_breach_to_come(self):
        timeline = Timeline(utc(2026, 1, 12, 9))

        early = status(
            timeline, utc(2026, 1, 12, 9), first_response=2, resolution=8, warning_lead=1
        )
        later = status(
            timeline, utc(2026, 1, 12, 12), first_response=2, resolution=8, warning_lead=1
        )

        assert early.next_alert_at == utc(2026, 1, 12, 10)  # first response warning
        assert later.next_alert_at == utc(2026, 1, 12, 16)  # resolution warning

    def test_no_warning_without_a_lead(self):
        clocks = status(Timeline(utc(2026, 1, 12, 9)), utc(2026, 1, 12, 9), first_response=2)

        assert clocks.first_response
        assert clocks.first_response.warn_at is None


class TestPolicyChange:
    """A new policy counts its targets from the ticket's creation: evaluate again."""

    timeline = Timeline(utc(2026, 1, 12, 9))
    now = utc(2026, 1, 12, 15)

    def test_a_tighter_target_can_be_breached_at_once(self):
        before = status(self.timeline, self.now, resolution=16)
        after = status(self.timeline, self.now, resolution=4)

        assert before.resolution
        assert before.resolution.due_at == utc(2026, 1, 13, 17)
        assert before.resolution.state is ClockState.RUNNING
        assert after.resolution
        assert after.resolution.due_at == utc(2026, 1, 12, 13)
        assert after.resolution.state is ClockState.BREACHED

    def test_a_looser_target_lifts_a_breach(self):
        before = status(self.timeline, self.now, resolution=4)
        after = status(self.timeline, self.now, resolution=24)

        assert before.resolution
        assert before.resolution.state is ClockState.BREACHED
        assert after.resolution
        assert after.resolution.state is ClockState.RUNNING
        assert after.resolution.due_at == utc(2026, 1, 14, 17)

    def test_another_calendar_counts_anew(self):
        always = BusinessCalendar(CalendarDefinition(always_open=True))

        after = status(self.timeline, self.now, calendar=always, resolution=16)

        assert after.resolution
        assert after.resolution.due_at == utc(2026, 1, 13, 1)
        assert after.resolution.elapsed == 6 * H


def test_due_across_spring_forward():
    berlin = office("Europe/Berlin", (*WEEKDAYS, "saturday", "sunday"))
    # Saturday 28 March 16:00 CET + 3 h: 1 h Saturday, Sunday 09:00-11:00 CEST (07:00-09:00 UTC).
    clocks = status(Timeline(utc(2026, 3, 28, 15)), utc(2026, 3, 28, 15), berlin, resolution=3)

    assert clocks.resolution
    assert clocks.resolution.due_at == utc(2026, 3, 29, 9)


def test_pauses_must_not_end_before_they_start():
    with pytest.raises(ValueError, match="before"):
        Pause(utc(2026, 1, 12, 10), utc(2026, 1, 12, 9))


# Disjoint pauses by construction: sorted instants taken in pairs.
timelines = st.builds(
    lambda created, points: Timeline(
        created,
        pauses=[
            Pause(created + a, created + b)
            for a, b in zip(sorted(points)[::2], sorted(points)[1::2], strict=False)
        ],
    ),
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
    ),
    st.lists(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), max_size=8, unique=True
    ),
)


def resolution_at(timeline: Timeline, now: datetime, seconds: int) -> ClockStatus:
    targets = SlaTargets(resolution_seconds=seconds)
    clock = evaluate(timeline=timeline, targets=targets, calendar=OFFICE, now=now).resolution
    assert clock is not None
    return clock


@settings(max_examples=200, deadline=None)
@given(timelines, st.integers(min_value=1, max_value=200 * 3600))
def test_the_target_is_used_up_exactly_at_due(timeline, target):
    due = resolution_at(timeline, timeline.created_at + timedelta(days=400), target).due_at
    assert due is not None

    at_due = resolution_at(timeline, due, target)
    just_before = resolution_at(timeline, due - US, target)

    assert at_due.elapsed == timedelta(seconds=target)
    assert at_due.state is ClockState.BREACHED
    assert just_before.elapsed < timedelta(seconds=target)
    assert just_before.state in (ClockState.RUNNING, ClockState.PAUSED)


@settings(max_examples=200, deadline=None)
@given(timelines, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_elapsed_is_business_time_less_the_paused_business_time(timeline, since):
    now = timeline.created_at + since
    paused = sum(
        (
            OFFICE.business_time_between(p.start, min(p.end, now))
            for p in timeline.pauses
            if p.end is not None and p.start < now
        ),
        timedelta(0),
    )

    elapsed = resolution_at(timeline, now, 10_000_000).elapsed

    assert elapsed == OFFICE.business_time_between(timeline.created_at, now) - paused


@settings(max_examples=100, deadline=None)
@given(timelines, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_elapsed_never_goes_back(timeline, since):
    now = timeline.created_at + since

    earlier = resolution_at(timeline, now, 10_000_000).elapsed
    later = resolution_at(timeline, now + timedelta(hours=5), 10_000_000).elapsed

    assert earlier <= later <= earlier + 5 * H
