"""The opaque cursor of GET /v1/orders: a keyset position bound to the filters it came from."""

import base64
from datetime import UTC, datetime

import pytest
from order_sync.orders.exceptions import InvalidCursor
from order_sync.orders.listing import decode_cursor, encode_cursor
from order_sync.orders.schemas import OrderFilters

AT = datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_a_cursor_gives_back_its_position() -> None:
    filters = OrderFilters(store_id="demo", financial_status=["paid", "refunded"])

    cursor = encode_cursor(AT, "order-1", filters)

    assert decode_cursor(cursor, filters) == (AT, "order-1")
    assert "=" not in cursor
    assert "order-1" not in cursor


def test_the_order_of_repeated_filter_values_does_not_matter() -> None:
    cursor = encode_cursor(AT, "o", OrderFilters(financial_status=["paid", "refunded"]))

    assert decode_cursor(cursor, OrderFilters(financial_status=["refunded", "paid"])) == (AT, "o")


@pytest.mark.parametrize(
    "other",
    [
        OrderFilters(),
        OrderFilters(store_id="other"),
        OrderFilters(store_id="demo", cancelled=True),
        OrderFilters(store_id="demo", placed_from=AT),
    ],
)
def test_a_cursor_is_refused_with_other_filters(other: OrderFilters) -> None:
    cursor = encode_cursor(AT, "o", OrderFilters(store_id="demo"))

    with pytest.raises(InvalidCursor, match="other filters"):
        decode_cursor(cursor, other)


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90IGpzb24",  # "not json"
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"p": "2026-11-01T10:00:00", "o": "x", "f": ""}').decode(),
        base64.urlsafe_b64encode(b'{"p": "yesterday", "o": "x", "f": ""}').decode(),
        base64.urlsafe_b64encode(b'{"p": "2026-11-01T10:00:00Z", "o": 5, "f": ""}').decode(),
    ],
)
def test_anything_else_is_not_a_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor, OrderFilters())

    assert [e["field"] for e in caught.value.errors or []] == ["cursor"]
