from datetime import UTC, datetime
from decimal import Decimal

import pytest
from analytics.kpis.schemas import KpiQuery, KpiRead
from pydantic import ValidationError


def query(**params: str) -> KpiQuery:
    return KpiQuery.model_validate({"store_id": "s1", **params})


def test_a_date_means_midnight_utc() -> None:
    window = query(**{"from": "2023-03-01", "to": "2023-04-01"})

    assert window.start == datetime(2023, 3, 1, tzinfo=UTC)
    assert window.end == datetime(2023, 4, 1, tzinfo=UTC)


def test_a_date_time_with_an_offset_is_converted_to_utc() -> None:
    window = query(**{"from": "2023-03-01T02:30:00+02:00", "to": "2023-03-01T10:00:00Z"})

    assert window.start == datetime(2023, 3, 1, 0, 30, tzinfo=UTC)
    assert window.start.utcoffset() is not None
    assert window.end == datetime(2023, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["2023-03-01T10:00:00", "yesterday", "1677628800", "2023-02-30", "2023-3-1"]
)
def test_other_instants_are_refused_naming_the_parameter(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        query(**{"from": value, "to": "2024-01-01"})

    assert [error["loc"] for error in raised.value.errors()] == [("from",)]


@pytest.mark.parametrize("to", ["2023-03-01", "2023-02-28T23:59:59Z"])
def test_to_must_be_later_than_from(to: str) -> None:
    with pytest.raises(ValidationError) as raised:
        query(**{"from": "2023-03-01", "to": to})

    (error,) = raised.value.errors()
    assert error["loc"] == ("to",)
    assert "later than `from`" in error["msg"]


def test_currency_is_optional_and_upper_cased() -> None:
    assert query(**{"from": "2023-01-01", "to": "2023-02-01"}).currency is None
    assert query(**{"from": "2023-01-01", "to": "2023-02-01", "currency": "eur"}).currency == "EUR"
    with pytest.raises(ValidationError):
        query(**{"from": "2023-01-01", "to": "2023-02-01", "currency": "EURO"})


def test_the_answer_names_the_window_as_from_and_to_with_decimal_strings() -> None:
    read = KpiRead(
        store_id="s1",
        start=datetime(2023, 3, 1, tzinfo=UTC),
        end=datetime(2023, 4, 1, tzinfo=UTC),
        currency="USD",
        orders=3,
        revenue=Decimal("180.00"),
        customers=2,
        aov=Decimal("60.00"),
        repeat_purchase_rate=Decimal("0.5000"),
    )

    assert read.model_dump(mode="json", by_alias=True) == {
        "store_id": "s1",
        "from": "2023-03-01T00:00:00Z",
        "to": "2023-04-01T00:00:00Z",
        "currency": "USD",
        "orders": 3,
        "revenue": "180.00",
        "customers": 2,
        "aov": "60.00",
        "repeat_purchase_rate": "0.5000",
    }
