"""Reading import files: records, row numbers and per-row errors, without any infrastructure."""

import io
import json
from typing import Any

import pytest
from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from order_sync.imports.exceptions import ImportFileError
from order_sync.imports.parsing import Record, read_csv, read_ndjson
from order_sync.imports.service import CheckedRecord, check

HEADER = (
    "external_id,placed_at,currency,financial_status,total,customer_email,customer_first_name,"
    "shipping_city,shipping_country,tags,line_sku,line_name,line_quantity,line_unit_price"
)


def csv_file(*rows: str, header: str = HEADER) -> io.BytesIO:
    return io.BytesIO(("\r\n".join((header, *rows)) + "\r\n").encode())


def checked(records: list[Record], store_id: str = "demo") -> list[CheckedRecord]:
    return [check(record, store_id=store_id) for record in records]


def errors_of(item: CheckedRecord) -> list[tuple[int, str]]:
    return [(problem.row, problem.field) for problem in item.problems]


def test_csv_rows_of_one_order_make_one_order_with_its_lines() -> None:
    stream = csv_file(
        '1001,2026-11-01T10:00:00Z,usd,paid,32.00,ann@example.com,Ann,Paris,fr,"gift, vip",'
        "MUG-1,Mug,2,12.50",
        "1001,,,,,,,,,,TEA-1,Tea,1,5.00",
        "1002,2026-11-02T10:00:00Z,USD,pending,9.00,bob@example.com,,,,,,Cap,1,9.00",
    )

    items = checked(list(read_csv(stream)))

    assert [(i.record.first_row, i.record.last_row, i.record.rows) for i in items] == [
        (2, 3, 2),
        (4, 4, 1),
    ]
    first = items[0].order
    assert isinstance(first, CanonicalOrder)
    assert first.store_id == "demo"
    assert first.currency == "USD"
    assert first.customer.email == "ann@example.com"
    assert first.shipping_address is not None
    assert first.shipping_address.country == "FR"
    assert first.tags == ["gift", "vip"]
    assert [(line.sku, line.name, line.quantity) for line in first.lines] == [
        ("MUG-1", "Mug", 2),
        ("TEA-1", "Tea", 1),
    ]
    assert items[1].order is not None
    assert items[1].order.lines[0].sku is None
    assert not stream.closed  # the caller's stream is left to the caller


def test_csv_errors_name_the_row_and_column_at_fault() -> None:
    stream = csv_file(
        "2001,2026-11-01T10:00:00Z,USD,paid,32.00,ann@example.com,,,,,A,Mug,2,12.50",
        "2001,,,,,,,,,,B,Tea,zero,5.00",
        "2002,yesterday,USD,paid,32.5.0,,,,,,,Cap,1,9.00",
        "2003,2026-11-01T10:00:00Z,USD,paid,9.00,x@example.com,,,,,,Cap,1",
        "2004,2026-11-01T10:00:00Z,USD,paid,9.00,y@example.com,,,,,,Cap,1,9.00",
        "2004,2026-11-01T10:00:00Z,EUR,,,,,,,,,Pen,1,1.00",
    )

    items = checked(list(read_csv(stream)))

    assert errors_of(items[0]) == [(3, "line_quantity")]
    assert sorted(errors_of(items[1])) == [(4, "customer"), (4, "placed_at"), (4, "total")]
    assert errors_of(items[2]) == [(5, "")]  # a cell short: the whole row
    assert errors_of(items[3]) == [(7, "currency")]  # differs from the order's first row
    assert all(item.order is None for item in items)


def test_a_csv_without_the_required_columns_cannot_be_imported() -> None:
    with pytest.raises(ImportFileError, match="total, line_name"):
        list(read_csv(csv_file(header="external_id,placed_at,currency")))
    with pytest.raises(ImportFileError, match="empty"):
        list(read_csv(io.BytesIO(b"")))


def test_a_csv_that_is_not_utf8_cannot_be_imported() -> None:
    stream = io.BytesIO(HEADER.encode() + b"\r\n1,\xff\xfe,USD\r\n")

    with pytest.raises(ImportFileError, match="not UTF-8"):
        list(read_csv(stream))


def ndjson(*lines: Any) -> io.BytesIO:
    return io.BytesIO(
        b"\n".join(line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines)
    )


def test_ndjson_lines_are_orders_numbered_by_line() -> None:
    order = {**CANONICAL_ORDER_EXAMPLE, "store_id": "demo"}
    stream = ndjson(
        {**order, "external_id": "1"},
        b"",
        b"{not json",
        [1, 2],
        {**order, "external_id": "2", "store_id": "other"},
        {**order, "external_id": 9007199254740993, "total": 32.5},
        {k: v for k, v in order.items() if k != "store_id"} | {"external_id": "4"},
    )

    items = checked(list(read_ndjson(stream)))

    assert [i.record.first_row for i in items] == [1, 3, 4, 5, 6, 7]
    assert items[0].order is not None
    assert errors_of(items[1]) == [(3, "")]
    assert errors_of(items[2]) == [(4, "")]
    assert errors_of(items[3]) == [(5, "store_id")]
    assert errors_of(items[4]) == [(6, "total")]
    assert items[5].order is not None
    assert items[5].order.store_id == "demo"  # filled in from the import's store


def test_ndjson_is_read_as_it_streams() -> None:
    order = json.dumps({**CANONICAL_ORDER_EXAMPLE, "store_id": "demo"}).encode()
    stream = io.BytesIO(b"\n".join([order] * 3))

    records = read_ndjson(stream)
    first = next(records)

    assert first.first_row == 1
    # Only the first line has been consumed.
    assert stream.tell() == len(order) + 1
