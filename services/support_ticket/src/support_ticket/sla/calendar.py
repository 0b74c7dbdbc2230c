"""Business calendars: when a support team is at work, and business time between two instants.

A calendar is a weekly schedule of opening intervals in one IANA time zone, minus holidays. All
instants in and out are aware datetimes (any zone, UTC by convention); durations are `timedelta`,
exact to the microsecond.

- An interval is wall-clock `start`-`end` on a weekday; `end` at or before `start` means the next
  day (Fri 22:00-02:00 ends on Saturday, 00:00-00:00 is the whole day).
- A holiday removes the intervals that START on that local date. An interval that starts the day
  before and runs past midnight into a holiday is kept whole; one that starts on a holiday and
  runs into an ordinary day is removed whole.
- The bounds of an interval are wall times turned into instants, and business time inside an
  interval is the real time that elapses between them. A wall time the clock skips (spring
  forward) is the instant of the jump; a wall time it shows twice (fall back) is its first
  occurrence. So 09:00-17:00 is 8 hours on any day, 00:00-06:00 is 5 hours on a spring-forward
  day and 7 on a fall-back day.
- The always-open calendar (24/7) counts every second of real time and knows no holidays.

Long spans are summed a week at a time: a week with no holiday and no change of the UTC offset
between its local midnights holds exactly the schedule's weekly total. Offsets are assumed not to
change and change back between two local midnights (no time zone does).
"""

import itertools
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
MAX_INTERVALS = 100
MAX_HOLIDAYS = 1000


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """Monday 0 to Sunday 6, as `date.weekday()`."""
        return list(Weekday).index(self)


class OpeningInterval(BaseModel):
    """Open from `start` to `end` wall time on `weekday`; an `end` at or before `start` falls
    on the next day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: Weekday
    start: time
    end: time

    @field_validator("start", "end")
    @classmethod
    def _wall_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall time without a UTC offset (the calendar's time zone applies)")
        if value.microsecond:
            raise ValueError("whole seconds only")
        return value

    @property
    def offset(self) -> timedelta:
        """From local midnight of its day to its start."""
        return _since_midnight(self.start)

    @property
    def length(self) -> timedelta:
        """Its wall-clock length: (0, 24 h]."""
        length = (_since_midnight(self.end) - self.offset) % DAY
        return length or DAY

    def label(self) -> str:
        return f"{self.weekday} {self.start:%H:%M:%S}-{self.end:%H:%M:%S}"


class CalendarDefinition(BaseModel):
    """A business calendar as stored and sent over HTTP; `BusinessCalendar` computes with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    always_open: bool = False
    """24/7: every second counts, no opening hours, no holidays."""
    time_zone: str = "UTC"
    """An IANA time zone name, such as `Europe/Berlin`."""
    opening_hours: list[OpeningInterval] = Field(
        default_factory=list, max_length=MAX_INTERVALS, validate_default=True
    )
    """Non-overlapping; required unless `always_open`."""
    holidays: list[date] = Field(default_factory=list, max_length=MAX_HOLIDAYS)
    """Local dates whose intervals are removed."""
    holiday_country: str | None = None
    """An ISO 3166-1 alpha-2 code whose public holidays (with observed days) the `holidays`
    package adds to `holidays`."""
    holiday_subdivision: str | None = None
    """A subdivision of `holiday_country` (`BY`, `CA`) whose own holidays are added too."""

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("opening_hours")
    @classmethod
    def _disjoint(cls, value: list[OpeningInterval], info: ValidationInfo) -> list[OpeningInterval]:
        if info.data.get("always_open"):
            if value:
                raise ValueError("an always-open calendar takes no opening hours")
            return value
        if not value:
            raise ValueError("at least one interval, unless always_open")
        # Offsets from Monday 00:00, a Sunday interval past midnight wrapping into Monday.
        pieces: list[tuple[timedelta, timedelta, OpeningInterval]] = []
        for interval in value:
            start = interval.weekday.number * DAY + interval.offset
            end = start + interval.length
            pieces.append((start, min(end, WEEK), interval))
            if end > WEEK:
                pieces.append((timedelta(0), end - WEEK, interval))
        pieces.sort(key=lambda piece: piece[0])
        for (_, end, first), (start, _, second) in itertools.pairwise(pieces):
            if start < end:
                raise ValueError(f"{first.label()} and {second.label()} overlap")
        return value

    @field_validator("holidays")
    @classmethod
    def _not_always_open(cls, value: list[date], info: ValidationInfo) -> list[date]:
        if value and info.data.get("always_open"):
            raise ValueError("an always-open calendar takes no holidays")
        return value

    @field_validator("holiday_country")
    @classmethod
    def _supported_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("always_open"):
            raise ValueError("an always-open calendar takes no holidays")
        if value not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
        return value

    @field_validator("holiday_subdivision")
    @classmethod
    def _subdivision_of_the_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("holiday_country")
        if value is not None and value not in holidays.list_supported_countries().get(
            country or "", []
        ):
            raise ValueError(f"{value!r} is not a subdivision of holiday_country {country!r}")
        return value


class BusinessCalendar:
    """Business-time arithmetic on one `CalendarDefinition`."""

    def __init__(self, definition: CalendarDefinition) -> None:
        self.definition = definition
        self._zone = ZoneInfo(definition.time_zone)
        self._by_weekday: list[list[OpeningInterval]] = [[] for _ in Weekday]
        for interval in sorted(definition.opening_hours, key=lambda i: i.offset):
            self._by_weekday[interval.weekday.number].append(interval)
        self._weekly = sum((i.length for i in definition.opening_hours), timedelta(0))
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        self._offset_changes_by_year: dict[int, frozenset[date]] = {}

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end); `end` must not be before `start`."""
        _check(start, end)
        if self.definition.always_open:
            return end - start
        total = timedelta(0)
        first_whole_day = self._local_date(start) + DAY
        day = first_whole_day - 2 * DAY
        while True:
            if (
                day >= first_whole_day
                and self._midnight(day + 8 * DAY) <= end
                and self._regular_week(day)
            ):
                total += self._weekly
                day += WEEK
                continue
            for span_start, span_end in self._spans(day):
                if span_start >= end:
                    return total
                total += max(min(span_end, end) - max(span_start, start), timedelta(0))
            day += DAY
            if self._midnight(day) >= end:
                return total

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant at which `amount` of business time has elapsed since `start`
        (`start` itself for none); in UTC."""
        _check(start)
        if amount < timedelta(0):
            raise ValueError("a negative amount of business time")
        if self.definition.always_open or not amount:
            return (start + amount).astimezone(UTC)
        remaining = amount
        first_whole_day = self._local_date(start) + DAY
        day = first_whole_day - 2 * DAY
        while True:
            if day >= first_whole_day and remaining > self._weekly and self._regular_week(day):
                remaining -= self._weekly
                day += WEEK
                continue
            for span_start, span_end in self._spans(day):
                counted_from = max(span_start, start)
                if span_end <= counted_from:
                    continue
                if remaining <= span_end - counted_from:
                    return (counted_from + remaining).astimezone(UTC)
                remaining -= span_end - counted_from
            day += DAY

    def is_open(self, at: datetime) -> bool:
        """Whether `at` falls inside an opening interval (intervals include their start, not
        their end)."""
        _check(at)
        if self.definition.always_open:
            return True
        day = self._local_date(at)
        spans = [*self._spans(day - DAY), *self._spans(day)]
        return any(start <= at < end for start, end in spans)

    def next_opening(self, at: datetime) -> datetime:
        """The earliest instant at or after `at` when the calendar is open; in UTC."""
        _check(at)
        if self.definition.always_open:
            return at.astimezone(UTC)
        day = self._local_date(at) - DAY
        while True:
            for start, end in self._spans(day):
                if end > at:
                    return max(start, at).astimezone(UTC)
            day += DAY

    def is_holiday(self, day: date) -> bool:
        """Whether the intervals starting on local date `day` are removed."""
        if self.definition.always_open:
            return False
        return day in self._holidays(day.year)

    def _spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The intervals starting on local date `day`, as UTC instants, in order."""
        if day in self._holidays(day.year):
            return
        midnight = datetime.combine(day, time())
        for interval in self._by_weekday[day.weekday()]:
            wall_start = midnight + interval.offset
            start = self._instant(wall_start)
            end = self._instant(wall_start + interval.length)
            if end > start:  # an interval inside a skipped hour is empty
                yield start, end

    def _regular_week(self, day: date) -> bool:
        """Whether the seven days from `day` hold exactly the weekly total."""
        days = [day + k * DAY for k in range(8)]
        return not any(
            d in self._offset_changes(d.year) or (d < days[-1] and d in self._holidays(d.year))
            for d in days
        )

    def _holidays(self, year: int) -> frozenset[date]:
        known = self._holidays_by_year.get(year)
        if known is None:
            definition = self.definition
            known = frozenset(d for d in definition.holidays if d.year == year)
            if definition.holiday_country is not None:
                by_country = holidays.country_holidays(
                    definition.holiday_country, subdiv=definition.holiday_subdivision, years=year
                )
                known |= frozenset(by_country)
            self._holidays_by_year[year] = known
        return known

    def _offset_changes(self, year: int) -> frozenset[date]:
        """The local dates whose next midnight has another UTC offset than their own."""
        known = self._offset_changes_by_year.get(year)
        if known is None:
            day = date(year, 1, 1)
            offsets = [
                datetime.combine(day + k * DAY, time(), self._zone).utcoffset()
                for k in range((date(year + 1, 1, 1) - day).days + 1)
            ]
            known = frozenset(
                day + k * DAY for k in range(len(offsets) - 1) if offsets[k] != offsets[k + 1]
            )
            self._offset_changes_by_year[year] = known
        return known

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self._zone).date()

    def _midnight(self, day: date) -> datetime:
        return self._instant(datetime.combine(day, time()))

    def _instant(self, wall: datetime) -> datetime:
        """The instant of a naive local wall time: a skipped one is the instant of the jump, a
        repeated one its first occurrence."""
        first = wall.replace(tzinfo=self._zone).astimezone(UTC)
        after_jump = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        if first <= after_jump:
            return first
        # Skipped: `after_jump` reads the wall time with the later offset, so it lies before the
        # jump and `first` after it. Offsets change on whole seconds.
        new_offset = first.astimezone(self._zone).utcoffset()
        low, high = math.floor(after_jump.timestamp()), math.ceil(first.timestamp())
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self._zone).utcoffset() == new_offset:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, UTC)


def _since_midnight(wall: time) -> timedelta:
    return timedelta(hours=wall.hour, minutes=wall.minute, seconds=wall.second)


def _check(*instants: datetime) -> None:
    if any(at.tzinfo is None or at.utcoffset() is None for at in instants):
        raise ValueError("instants must be timezone-aware")
    if len(instants) == 2 and instants[1] < instants[0]:
        raise ValueError("end before start")
