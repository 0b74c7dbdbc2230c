import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from crm_events.types import Currency, ExternalId, Money, UtcDatetime
from pydantic import BaseModel, ValidationError


class Sample(BaseModel):
    amount: Money = Decimal("0")
    currency: Currency = "USD"
    at: UtcDatetime = datetime(2026, 1, 1, tzinfo=UTC)
    ref: ExternalId = "x"


def test_money_is_a_decimal_written_as_a_string() -> None:
    sample = Sample.model_validate_json(b'{"amount": "12.50"}')

    assert sample.amount == Decimal("12.50")
    assert json.loads(sample.model_dump_json())["amount"] == "12.50"
    assert Sample(amount=Decimal("1E+2")).model_dump(mode="json")["amount"] == "100"
    assert Sample.model_json_schema()["properties"]["amount"]["pattern"] == r"^-?\d+(\.\d+)?$"


@pytest.mark.parametrize("value", [7, "7", "-0.5", Decimal("3.10")])
def test_money_accepts_strings_ints_and_decimals(value: Any) -> None:
    assert Sample(amount=value).amount == Decimal(str(value))


@pytest.mark.parametrize(
    "value", [12.5, 12.0, True, "1e3", "12,50", " 1", "NaN", Decimal("Infinity")]
)
def test_money_rejects_floats_and_odd_strings(value: Any) -> None:
    with pytest.raises(ValidationError, match="amount"):
        Sample(amount=value)


def test_money_rejects_a_json_float() -> None:
    with pytest.raises(ValidationError, match="never a float"):
        Sample.model_validate_json(b'{"amount": 32.0}')


def test_currency_is_normalised() -> None:
    assert Sample(currency="eur").currency == "EUR"
    with pytest.raises(ValidationError, match="currency"):
        Sample(currency="EURO")


def test_utc_datetime_converts_and_writes_z() -> None:
    sample = Sample.model_validate_json(b'{"at": "2026-11-01T12:30:00+02:00"}')

    assert sample.at == datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    assert sample.at.tzinfo is UTC
    assert json.loads(sample.model_dump_json())["at"] == "2026-11-01T10:30:00Z"
    with pytest.raises(ValidationError, match="timezone"):
        Sample.model_validate_json(b'{"at": "2026-11-01T12:30:00"}')


def test_a_19_digit_id_keeps_every_digit() -> None:
    big = 9223372036854775807  # 19 digits, far above 2**53 where floats start to round

    from_json = Sample.model_validate_json(f'{{"ref": {big}}}'.encode())
    from_python = Sample(ref=big)

    assert from_json.ref == from_python.ref == "9223372036854775807"
    assert Sample(ref=12345678901234567891).ref == "12345678901234567891"


@pytest.mark.parametrize("value", [1.0, 4.5e18, True, ""])
def test_external_id_rejects_floats_bools_and_empty(value: Any) -> None:
    with pytest.raises(ValidationError, match="ref"):
        Sample(ref=value)
