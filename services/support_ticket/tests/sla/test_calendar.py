"""Business-time arithmetic against instants worked out by hand (UTC in the comments' terms)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from support_ticket.sla.calendar import BusinessCalendar, CalendarDefinition

H = timedelta(hours=1)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
EVERY_DAY = (*WEEKDAYS, "saturday", "sunday")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def calendar(
    zone: str, *intervals: tuple[tuple[str, ...], str, str], **options: object
) -> BusinessCalendar:
    hours = [
        {"weekday": day, "start": start, "end": end}
        for days, start, end in intervals
        for day in days
    ]
    return BusinessCalendar(
        CalendarDefinition.model_validate({"time_zone": zone, "opening_hours": hours, **options})
    )


@pytest.fixture
def office() -> BusinessCalendar:
    """Monday to Friday 09:00-17:00 in Berlin (UTC+1 in January)."""
    return calendar("Europe/Berlin", (WEEKDAYS, "09:00", "17:00"))


# 2026-01-12 is a Monday.


def test_a_working_day_holds_eight_hours(office):
    assert office.business_time_between(utc(2026, 1, 12, 9), utc(2026, 1, 13, 9)) == 8 * H


def test_the_weekend_does_not_count(office):
    assert office.business_time_between(utc(2026, 1, 16, 15), utc(2026, 1, 19, 9)) == 2 * H
    assert office.add_business_time(utc(2026, 1, 16, 15), 2 * H) == utc(2026, 1, 19, 9)


def test_adding_lands_on_the_earliest_instant_not_the_next_opening(office):
    assert office.add_business_time(utc(2026, 1, 12, 8), 8 * H) == utc(2026, 1, 12, 16)
    later = office.add_business_time(utc(2026, 1, 12, 8), 8 * H + timedelta(microseconds=1))
    assert later == utc(2026, 1, 13, 8) + timedelta(microseconds=1)


def test_adding_from_a_closed_instant_starts_at_the_next_opening(office):
    assert office.add_business_time(utc(2026, 1, 17, 12), H) == utc(2026, 1, 19, 9)
    assert office.add_business_time(utc(2026, 1, 17, 12), timedelta(0)) == utc(2026, 1, 17, 12)


def test_instants_in_other_zones_mean_the_same_moments(office):
    tokyo = datetime(2026, 1, 12, 9, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert office.business_time_between(tokyo, utc(2026, 1, 12, 16)) == 7 * H


def test_open_includes_the_start_and_excludes_the_end(office):
    assert office.is_open(utc(2026, 1, 12, 8))
    assert office.is_open(utc(2026, 1, 12, 15, 59, 59))
    assert not office.is_open(utc(2026, 1, 12, 16))
    assert not office.is_open(utc(2026, 1, 17, 12))


def test_next_opening(office):
    assert office.next_opening(utc(2026, 1, 16, 16)) == utc(2026, 1, 19, 8)
    assert office.next_opening(utc(2026, 1, 14, 10, 30)) == utc(2026, 1, 14, 10, 30)


def test_several_intervals_a_day_leave_out_the_gaps():
    lunch = calendar("UTC", (WEEKDAYS, "09:00", "12:00"), (WEEKDAYS, "13:00", "17:00"))

    assert lunch.business_time_between(utc(2026, 1, 12, 11), utc(2026, 1, 12, 14)) == 2 * H
    assert lunch.add_business_time(utc(2026, 1, 12, 11, 30), H) == utc(2026, 1, 12, 13, 30)
    assert not lunch.is_open(utc(2026, 1, 12, 12, 30))
    assert lunch.next_opening(utc(2026, 1, 12, 12, 30)) == utc(2026, 1, 12, 13)


def friday_night(**options: object) -> BusinessCalendar:
    return calendar("UTC", (("friday",), "22:00", "02:00"), **options)


class TestAcrossMidnight:
    def test_an_interval_runs_into_the_next_day(self):
        night = friday_night()

        assert night.business_time_between(utc(2026, 1, 16, 23), utc(2026, 1, 17, 1, 30)) == 2.5 * H
        assert night.business_time_between(utc(2026, 1, 16, 20), utc(2026, 1, 17, 12)) == 4 * H
        assert night.is_open(utc(2026, 1, 17, 1, 59, 59))
        assert not night.is_open(utc(2026, 1, 17, 2))
        assert night.add_business_time(utc(2026, 1, 16, 21), 3 * H) == utc(2026, 1, 17, 1)

    def test_a_sunday_interval_runs_into_monday(self):
        sunday = calendar("UTC", (("sunday",), "22:00", "02:00"))

        assert sunday.business_time_between(utc(2026, 1, 18, 21), utc(2026, 1, 19, 3)) == 4 * H
        assert sunday.is_open(utc(2026, 1, 19, 1))

    def test_equal_bounds_mean_the_whole_day(self):
        saturday = calendar("UTC", (("saturday",), "00:00", "00:00"))

        assert saturday.business_time_between(utc(2026, 1, 16), utc(2026, 1, 19)) == 24 * H

    def test_a_holiday_the_interval_runs_into_keeps_it_whole(self):
        night = friday_night(holidays=["2026-01-17"])

        assert night.business_time_between(utc(2026, 1, 16), utc(2026, 1, 18)) == 4 * H
        assert night.is_open(utc(2026, 1, 17, 1))

    def test_a_holiday_the_interval_starts_on_removes_it_whole(self):
        night = friday_night(holidays=["2026-01-16"])

        assert night.business_time_between(utc(2026, 1, 16), utc(2026, 1, 18)) == timedelta(0)
        assert not night.is_open(utc(2026, 1, 17, 1))
        assert night.next_opening(utc(2026, 1, 16)) == utc(2026, 1, 23, 22)


class TestDaylightSaving:
    """Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC), 2026-10-25 03:00 CEST ->
    02:00 CET (01:00 UTC). America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC),
    2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC)."""

    def test_nine_to_five_is_eight_hours_on_the_change_days(self):
        berlin = calendar("Europe/Berlin", (EVERY_DAY, "09:00", "17:00"))
        new_york = calendar("America/New_York", (EVERY_DAY, "09:00", "17:00"))

        assert berlin.business_time_between(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)) == 8 * H
        assert berlin.business_time_between(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)) == 8 * H
        assert new_york.business_time_between(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)) == 8 * H
        assert new_york.business_time_between(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)) == 8 * H
        # Saturday 12:00 CET to Monday 12:00 CEST: 5 + 8 + 3 hours.
        assert berlin.business_time_between(utc(2026, 3, 28, 11), utc(2026, 3, 30, 10)) == 16 * H

    def test_an_interval_holding_the_change_counts_real_time(self):
        early = calendar("Europe/Berlin", (("sunday",), "00:00", "06:00"))

        # 00:00 CET (23:00 UTC) to 06:00 CEST (04:00 UTC).
        assert early.business_time_between(utc(2026, 3, 28), utc(2026, 3, 30)) == 5 * H
        # 00:00 CEST (22:00 UTC) to 06:00 CET (05:00 UTC).
        assert early.business_time_between(utc(2026, 10, 24), utc(2026, 10, 26)) == 7 * H
        assert early.add_business_time(utc(2026, 10, 24, 22), 7 * H) == utc(2026, 10, 25, 5)

    def test_a_skipped_wall_time_is_the_instant_of_the_jump(self):
        starts_skipped = calendar("Europe/Berlin", (("sunday",), "02:30", "05:00"))
        ends_skipped = calendar("Europe/Berlin", (("sunday",), "01:00", "02:30"))

        day = (utc(2026, 3, 28), utc(2026, 3, 30))
        assert starts_skipped.business_time_between(*day) == 2 * H  # 01:00 to 03:00 UTC
        assert not starts_skipped.is_open(utc(2026, 3, 29, 0, 59, 59))
        assert starts_skipped.next_opening(utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1)
        assert ends_skipped.business_time_between(*day) == H  # 00:00 to 01:00 UTC
        assert not ends_skipped.is_open(utc(2026, 3, 29, 1))

    def test_an_interval_inside_the_skipped_hour_is_empty(self):
        skipped = calendar(
            "Europe/Berlin", (("sunday",), "02:10", "02:50"), (("monday",), "09:00", "10:00")
        )

        assert skipped.business_time_between(utc(2026, 3, 28), utc(2026, 3, 30)) == timedelta(0)
        assert skipped.next_opening(utc(2026, 3, 29)) == utc(2026, 3, 30, 7)

    def test_a_repeated_wall_time_is_its_first_occurrence(self):
        starts_repeated = calendar("Europe/Berlin", (("sunday",), "02:30", "04:00"))
        ends_repeated = calendar("Europe/Berlin", (("sunday",), "00:00", "02:30"))

        day = (utc(2026, 10, 24), utc(2026, 10, 26))
        # 02:30 CEST (00:30 UTC) to 04:00 CET (03:00 UTC), the whole repeated hour included.
        assert starts_repeated.business_time_between(*day) == 2.5 * H
        assert starts_repeated.is_open(utc(2026, 10, 25, 1, 15))  # 02:15 CET
        # 00:00 CEST (22:00 UTC) to 02:30 CEST (00:30 UTC).
        assert ends_repeated.business_time_between(*day) == 2.5 * H
        assert not ends_repeated.is_open(utc(2026, 10, 25, 1, 15))

    def test_night_shifts_across_the_change(self):
        new_york = calendar("America/New_York", (EVERY_DAY, "22:00", "06:00"))
        berlin = calendar("Europe/Berlin", (EVERY_DAY, "22:00", "06:00"))

        # Saturday 22:00 EST (03:00 UTC) to Sunday 06:00 EDT (10:00 UTC).
        assert new_york.business_time_between(utc(2026, 3, 8, 3), utc(2026, 3, 8, 10)) == 7 * H
        # Saturday 22:00 EDT (02:00 UTC) to Sunday 06:00 EST (11:00 UTC).
        assert new_york.business_time_between(utc(2026, 11, 1, 2), utc(2026, 11, 1, 11)) == 9 * H
        # Saturday 22:00 CET (21:00 UTC) to Sunday 06:00 CEST (04:00 UTC), then 22:00 CEST.
        assert berlin.add_business_time(utc(2026, 3, 28, 21), 7 * H) == utc(2026, 3, 29, 4)
        after = berlin.add_business_time(utc(2026, 3, 28, 21), 7 * H + timedelta(seconds=1))
        assert after == utc(2026, 3, 29, 20, 0, 1)

    def test_whole_weeks_across_the_change_count_real_time(self):
        nights = calendar("Europe/Berlin", (EVERY_DAY, "22:00", "06:00"))

        # Monday 19 Oct 06:00 CEST to Monday 2 Nov 06:00 CET: fourteen 8-hour nights, one of
        # them (Saturday 24th) 9 hours long.
        start, end = utc(2026, 10, 19, 4), utc(2026, 11, 2, 5)
        assert nights.business_time_between(start, end) == 113 * H
        assert nights.add_business_time(start, 113 * H) == end

    def test_adding_across_spring_forward(self):
        new_york = calendar("America/New_York", (EVERY_DAY, "09:00", "17:00"))

        # Saturday 16:00 EST (21:00 UTC) + 2 h: Sunday 10:00 EDT (14:00 UTC).
        assert new_york.add_business_time(utc(2026, 3, 7, 21), 2 * H) == utc(2026, 3, 8, 14)


class TestHolidays:
    def test_listed_dates_are_closed(self):
        office = calendar("UTC", (WEEKDAYS, "09:00", "17:00"), holidays=["2026-01-14"])

        assert office.business_time_between(utc(2026, 1, 13, 9), utc(2026, 1, 15, 9)) == 8 * H
        assert office.is_holiday(date(2026, 1, 14))

    def test_german_public_holidays(self):
        germany = calendar("Europe/Berlin", (WEEKDAYS, "09:00", "17:00"), holiday_country="DE")

        # Thursday 2 April 16:00 CEST + 2 h: Good Friday and Easter Monday closed, Tuesday 7
        # April 10:00 CEST.
        assert germany.add_business_time(utc(2026, 4, 2, 14), 2 * H) == utc(2026, 4, 7, 8)
        assert germany.business_time_between(utc(2026, 4, 2, 14), utc(2026, 4, 7, 8)) == 2 * H

    def test_a_subdivision_adds_its_own(self):
        bavaria = calendar(
            "Europe/Berlin",
            (WEEKDAYS, "09:00", "17:00"),
            holiday_country="DE",
            holiday_subdivision="BY",
        )
        berlin = calendar(
            "Europe/Berlin",
            (WEEKDAYS, "09:00", "17:00"),
            holiday_country="DE",
            holiday_subdivision="BE",
        )

        # Epiphany, Tuesday 6 January, is a holiday in Bavaria only.
        assert bavaria.add_business_time(utc(2026, 1, 5, 15), 2 * H) == utc(2026, 1, 7, 9)
        assert berlin.add_business_time(utc(2026, 1, 5, 15), 2 * H) == utc(2026, 1, 6, 9)

    def test_an_observed_us_holiday_closes_the_weekday(self):
        us = calendar("America/New_York", (WEEKDAYS, "09:00", "17:00"), holiday_country="US")

        # 4 July 2026 is a Saturday, observed on Friday 3 July.
        assert us.add_business_time(utc(2026, 7, 2, 20), 2 * H) == utc(2026, 7, 6, 14)

    def test_thanksgiving_keeps_the_night_shift_that_runs_into_it(self):
        nights = calendar("America/New_York", (WEEKDAYS, "22:00", "06:00"), holiday_country="US")

        # Wednesday 22:00 EST to Thursday 06:00 counts whole (8 h); the shift starting on
        # Thanksgiving does not; Friday 22:00 to Saturday 00:00 EST counts 2 h.
        between = nights.business_time_between(utc(2026, 11, 26, 3), utc(2026, 11, 28, 5))
        assert between == 10 * H
        assert nights.is_open(utc(2026, 11, 26, 10))  # Thursday 05:00 EST
        assert not nights.is_open(utc(2026, 11, 27, 4))  # Thursday 23:00 EST

    def test_a_far_target_through_months_of_holidays_and_a_change_of_offset(self):
        germany = calendar("Europe/Berlin", (WEEKDAYS, "09:00", "17:00"), holiday_country="DE")

        # 400 hours = 50 working days from Monday 30 March 09:00 CEST, skipping Good Friday,
        # Easter Monday, 1 May, Ascension (14 May) and Whit Monday (25 May): Friday 12 June
        # 17:00 CEST.
        start = utc(2026, 3, 30, 7)
        assert germany.add_business_time(start, 400 * H) == utc(2026, 6, 12, 15)
        assert germany.business_time_between(start, utc(2026, 6, 12, 15)) == 400 * H

    def test_weeks_skipped_across_a_spring_forward_count_real_time(self):
        office = calendar("Europe/Berlin", (WEEKDAYS, "09:00", "17:00"))

        # Monday 23 March 09:00 CET + 80 h: Friday 3 April 17:00 CEST.
        assert office.add_business_time(utc(2026, 3, 23, 8), 80 * H) == utc(2026, 4, 3, 15)


class TestAlwaysOpen:
    def test_every_second_counts(self):
        always = BusinessCalendar(CalendarDefinition(always_open=True))
        start = utc(2026, 3, 28, 12)

        assert always.business_time_between(start, utc(2026, 3, 30, 12)) == 48 * H
        assert always.add_business_time(start, 48 * H) == utc(2026, 3, 30, 12)
        assert always.is_open(start)
        assert always.next_opening(start) == start
        assert not always.is_holiday(date(2026, 12, 25))

    def test_whole_days_in_a_zone_count_real_time(self):
        berlin = calendar("Europe/Berlin", (EVERY_DAY, "00:00", "00:00"))

        # Sunday 29 March in Berlin lasts 23 hours.
        assert berlin.business_time_between(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)) == 23 * H


class TestDefinition:
    @pytest.mark.parametrize(
        ("document", "field"),
        [
            ({"time_zone": "Mars/Olympus", "always_open": True}, "time_zone"),
            ({"time_zone": "UTC"}, "opening_hours"),
            (
                {
                    "always_open": True,
                    "opening_hours": [{"weekday": "monday", "start": "09:00", "end": "10:00"}],
                },
                "opening_hours",
            ),
            (
                {
                    "opening_hours": [
                        {"weekday": "sunday", "start": "22:00", "end": "02:00"},
                        {"weekday": "monday", "start": "01:00", "end": "05:00"},
                    ]
                },
                "opening_hours",
            ),
            ({"always_open": True, "holidays": ["2026-12-25"]}, "holidays"),
            ({"always_open": True, "holiday_country": "DE"}, "holiday_country"),
            (
                {
                    "opening_hours": [{"weekday": "monday", "start": "09:00", "end": "10:00"}],
                    "holiday_country": "ZZ",
                },
                "holiday_country",
            ),
            (
                {
                    "opening_hours": [{"weekday": "monday", "start": "09:00", "end": "10:00"}],
                    "holiday_country": "DE",
                    "holiday_subdivision": "CA",
                },
                "holiday_subdivision",
            ),
        ],
    )
    def test_errors_name_the_field(self, document, field):
        with pytest.raises(ValidationError) as caught:
            CalendarDefinition.model_validate(document)

        assert [error["loc"][0] for error in caught.value.errors()] == [field]

    def test_wall_times_take_no_offset(self):
        with pytest.raises(ValidationError) as caught:
            CalendarDefinition.model_validate(
                {"opening_hours": [{"weekday": "monday", "start": "09:00+02:00", "end": "10:00"}]}
            )

        assert caught.value.errors()[0]["loc"] == ("opening_hours", 0, "start")

    def test_touching_intervals_are_allowed(self):
        touching = calendar("UTC", (("sunday",), "22:00", "02:00"), (("monday",), "02:00", "05:00"))

        assert touching.business_time_between(utc(2026, 1, 18), utc(2026, 1, 20)) == 7 * H

    def test_naive_or_reversed_instants_are_refused(self, office):
        with pytest.raises(ValueError, match="aware"):
            office.is_open(datetime(2026, 1, 12, 9))
        with pytest.raises(ValueError, match="before"):
            office.business_time_between(utc(2026, 1, 13), utc(2026, 1, 12))
        with pytest.raises(ValueError, match="negative"):
            office.add_business_time(utc(2026, 1, 13), -H)
