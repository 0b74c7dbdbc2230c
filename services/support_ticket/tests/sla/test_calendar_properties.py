"""Laws business-time arithmetic obeys on calendars chosen to be awkward: DST zones (one with a
30-minute change), intervals across midnight and inside changing hours, holidays by list and by
country, and instants drawn near the changes."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support_ticket.sla.calendar import BusinessCalendar, CalendarDefinition

US = timedelta(microseconds=1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
EVERY_DAY = (*WEEKDAYS, "saturday", "sunday")


def definition(zone: str, intervals: list[tuple[str, str, str]], **options: object) -> dict:
    hours = [{"weekday": d, "start": s, "end": e} for d, s, e in intervals]
    return {"time_zone": zone, "opening_hours": hours, **options}


DEFINITIONS = [
    definition(
        "Europe/Berlin",
        [(d, "09:00", "12:00") for d in WEEKDAYS] + [(d, "13:00", "17:00") for d in WEEKDAYS],
        holiday_country="DE",
        holiday_subdivision="BY",
    ),
    definition(
        "America/New_York", [(d, "22:00", "06:00") for d in EVERY_DAY], holiday_country="US"
    ),
    definition(
        "Europe/Berlin",
        [(d, "01:00", "02:30") for d in EVERY_DAY] + [(d, "02:30", "04:00") for d in EVERY_DAY],
    ),
    definition(
        "Australia/Lord_Howe",
        [("friday", "22:00", "02:00"), ("sunday", "01:45", "02:15"), ("tuesday", "08:00", "08:00")],
        holidays=["2026-04-03", "2026-10-02", "2026-12-25"],
    ),
    {"always_open": True},
]
CALENDARS = [BusinessCalendar(CalendarDefinition.model_validate(d)) for d in DEFINITIONS]

# The offset changes of 2026 in the zones above (UTC), around which instants are also drawn.
CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
]

anywhere = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)
)
near_a_change = st.builds(
    lambda change, offset: change + offset,
    st.sampled_from(CHANGES),
    st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)),
)
instants = st.one_of(anywhere, near_a_change)
calendars = st.sampled_from(CALENDARS)
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2000))
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ordered(*points: datetime) -> list[datetime]:
    return sorted(points)


@PROPERTY
@given(calendars, instants, instants, instants)
def test_additive_over_split_points(calendar, a, b, c):
    a, b, c = ordered(a, b, c)

    between = calendar.business_time_between
    assert between(a, c) == between(a, b) + between(b, c)


@PROPERTY
@given(calendars, instants, instants, instants)
def test_monotonic_and_never_more_than_real_time(calendar, a, b, c):
    a, b, c = ordered(a, b, c)

    assert timedelta(0) <= calendar.business_time_between(a, b) <= b - a
    assert calendar.business_time_between(a, b) <= calendar.business_time_between(a, c)


@PROPERTY
@given(calendars, instants, instants)
def test_adding_the_time_between_lands_at_or_before_the_end(calendar, a, b):
    a, b = ordered(a, b)
    between = calendar.business_time_between(a, b)

    landed = calendar.add_business_time(a, between)

    assert landed <= b
    assert calendar.business_time_between(a, landed) == between
    assert calendar.business_time_between(landed, b) == timedelta(0)
    if between:
        assert calendar.business_time_between(a, landed - US) < between


@PROPERTY
@given(calendars, instants, amounts)
def test_adding_then_measuring_gives_the_amount_back(calendar, start, amount):
    landed = calendar.add_business_time(start, amount)

    assert landed >= start
    assert calendar.business_time_between(start, landed) == amount
    if amount:
        assert calendar.is_open(landed - US)


@PROPERTY
@given(calendars, instants, st.integers(min_value=1, max_value=160))
def test_whole_weeks_at_once_equal_day_after_day(calendar, start, days):
    end = start + timedelta(days=days)
    daily = sum(
        (
            calendar.business_time_between(start + timedelta(days=k), start + timedelta(days=k + 1))
            for k in range(days)
        ),
        timedelta(0),
    )

    assert calendar.business_time_between(start, end) == daily


@PROPERTY
@given(calendars, instants)
def test_open_means_business_time_passes(calendar, at):
    assert calendar.is_open(at) == (calendar.business_time_between(at, at + US) == US)


@PROPERTY
@given(calendars, instants)
def test_the_next_opening_is_open_and_nothing_counts_before_it(calendar, at):
    opening = calendar.next_opening(at)

    assert opening >= at
    assert calendar.is_open(opening)
    assert calendar.business_time_between(at, opening) == timedelta(0)


@PROPERTY
@given(st.sampled_from(range(len(DEFINITIONS) - 1)), instants)
def test_open_as_read_off_the_local_wall_clock(index, at):
    """Away from the repeated hour, an instant is open when its local wall time lies in an
    interval of its date that is not a holiday, or in one of the day before that runs past
    midnight."""
    document = DEFINITIONS[index]
    zone = ZoneInfo(document["time_zone"])
    local = at.astimezone(zone)
    assume(local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset())
    wall = local.replace(tzinfo=None)
    closed: set[date] = {date.fromisoformat(d) for d in document.get("holidays", [])}
    if "holiday_country" in document:
        closed |= set(
            holidays.country_holidays(
                document["holiday_country"],
                subdiv=document.get("holiday_subdivision"),
                years=range(2025, 2028),
            )
        )

    def within(day: date, interval: dict) -> bool:
        start = datetime.combine(day, datetime.strptime(interval["start"], "%H:%M").time())
        end = datetime.combine(day, datetime.strptime(interval["end"], "%H:%M").time())
        if end <= start:
            end += timedelta(days=1)
        return start <= wall < end

    expected = any(
        within(day, interval)
        for day in (wall.date(), wall.date() - timedelta(days=1))
        if day not in closed
        for interval in document["opening_hours"]
        if interval["weekday"] == day.strftime("%A").lower()
    )

    assert CALENDARS[index].is_open(at) == expected


@PROPERTY
@given(instants, instants)
def test_always_open_counts_real_time(a, b):
    a, b = ordered(a, b)
    always = CALENDARS[-1]

    assert always.business_time_between(a, b) == b - a
    assert always.add_business_time(a, b - a) == b
