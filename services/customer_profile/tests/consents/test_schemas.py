"""A consent decision as the API reads it."""

from datetime import UTC, datetime

import pytest
from customer_profile.consents.schemas import ConsentChange
from pydantic import ValidationError


def test_a_decision_time_is_held_in_utc() -> None:
    change = ConsentChange.model_validate(
        {"status": "granted", "changed_at": "2026-03-01T13:00:00+01:00"}
    )

    assert change.changed_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert change.changed_at.tzinfo is UTC


def test_a_decision_time_before_year_1_in_utc_is_invalid_not_an_error() -> None:
    with pytest.raises(ValidationError, match="out of range once in UTC"):
        ConsentChange.model_validate({"status": "granted", "changed_at": "0001-01-01T00:00+14:00"})
