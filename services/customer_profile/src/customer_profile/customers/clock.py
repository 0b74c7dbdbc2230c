"""The time of each attribution in a run of them."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


class MonotonicClock:
    """`datetime.now(UTC)`, but each reading strictly later than the one before."""

    def __init__(self, now: Clock | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._last: datetime | None = None

    def __call__(self) -> datetime:
        now = self._now()
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now
