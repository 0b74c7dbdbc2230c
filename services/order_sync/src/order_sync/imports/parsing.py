"""Reading an import file as a stream of canonical-order records, one order per record.

NDJSON: one canonical order (the `POST /v1/orders` body) per line. CSV: one row per line item,
the order's columns repeated on its rows or left empty after the first, consecutive rows with
the same `external_id` making one order (the shape of a shop's order export). Neither is ever
read whole: records come out as the file is read.
"""

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from order_sync.imports.exceptions import ImportFileError
from order_sync.imports.schemas import ImportFormat
from order_sync.orders.validation import Location

ORDER_COLUMNS = (
    "store_id",
    "external_id",
    "placed_at",
    "updated_at",
    "currency",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "note",
    "tags",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "refunded_total",
)
CUSTOMER_FIELDS = ("external_id", "email", "phone", "first_name", "last_name", "accepts_marketing")
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
LINE_FIELDS = (
    "external_id",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "variant_id",
    "product_id",
    "discount_total",
    "total",
)
ADDRESSES = {"billing": "billing_address", "shipping": "shipping_address"}

# Every column of the order itself (as opposed to one of its lines).
ORDER_LEVEL_COLUMNS = (
    *ORDER_COLUMNS,
    *(f"customer_{name}" for name in CUSTOMER_FIELDS),
    *(f"{prefix}_{name}" for prefix in ADDRESSES for name in ADDRESS_FIELDS),
)
LINE_COLUMNS = tuple(f"line_{name}" for name in LINE_FIELDS)
CSV_COLUMNS = (*ORDER_LEVEL_COLUMNS, *LINE_COLUMNS)
REQUIRED_CSV_COLUMNS = ("external_id", "placed_at", "currency", "total", "line_name")


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Record:
    """One order as read from rows `first_row`..`last_row` (`rows` of them, blank ones not
    counted), or the problems that kept it from being read."""

    first_row: int
    last_row: int
    rows: int
    raw: dict[str, Any] | None
    problems: tuple[RowProblem, ...]
    locate: Callable[[Location], tuple[int, str]]
    """Where a validation error at a path inside the order is: (row, column or field)."""


def read_records(stream: IO[bytes], fmt: ImportFormat) -> Iterator[Record]:
    """The records of `stream`; raises `ImportFileError` when the file as a whole is unusable."""
    return read_csv(stream) if fmt is ImportFormat.CSV else read_ndjson(stream)


def read_ndjson(stream: IO[bytes]) -> Iterator[Record]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        locate = _ndjson_locator(number)
        try:
            raw = json.loads(line)
        except ValueError as error:  # also invalid UTF-8
            problem = RowProblem(number, "", f"not valid JSON: {error}")
            yield Record(number, number, 1, None, (problem,), locate)
            continue
        if not isinstance(raw, dict):
            problem = RowProblem(number, "", "each line must be a JSON object (one order)")
            yield Record(number, number, 1, None, (problem,), locate)
            continue
        yield Record(number, number, 1, raw, (), locate)


def _ndjson_locator(row: int) -> Callable[[Location], tuple[int, str]]:
    def locate(loc: Location) -> tuple[int, str]:
        return row, ".".join(str(part) for part in loc)

    return locate


def read_csv(stream: IO[bytes]) -> Iterator[Record]:
    # utf-8-sig: spreadsheet programs often start their CSV exports with a byte-order mark.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    row = 1
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError("the CSV file is empty: it needs a header row")
        columns = [name.strip().lower() for name in header]
        missing = [name for name in REQUIRED_CSV_COLUMNS if name not in columns]
        if missing:
            raise ImportFileError(f"the CSV header lacks the column(s) {', '.join(missing)}")
        group: list[tuple[int, dict[str, str], int]] = []
        for cells in reader:
            row += 1
            if not any(cell.strip() for cell in cells):
                continue
            values = {
                name: cell.strip() for name, cell in zip(columns, cells, strict=False) if name
            }
            key = (values.get("store_id", ""), values.get("external_id", ""))
            if group and key != _key(group[0][1]):
                yield _csv_record(group, len(columns))
                group = []
            group.append((row, values, len(cells)))
        if group:
            yield _csv_record(group, len(columns))
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8 (after row {row}): {error}") from error
    except csv.Error as error:
        raise ImportFileError(f"the CSV is malformed at row {row}: {error}") from error
    finally:
        # The wrapper would close the caller's stream when collected.
        text.detach()


def _key(values: dict[str, str]) -> tuple[str, str]:
    return values.get("store_id", ""), values.get("external_id", "")


def _csv_record(group: list[tuple[int, dict[str, str], int]], width: int) -> Record:
    first_row, first, _ = group[0]
    order: dict[str, Any] = {name: first[name] for name in ORDER_COLUMNS if first.get(name)}
    if "tags" in order:
        order["tags"] = [tag.strip() for tag in order["tags"].split(",") if tag.strip()]
    order["customer"] = {
        name: first[f"customer_{name}"] for name in CUSTOMER_FIELDS if first.get(f"customer_{name}")
    }
    for prefix, field in ADDRESSES.items():
        address = {
            name: first[f"{prefix}_{name}"]
            for name in ADDRESS_FIELDS
            if first.get(f"{prefix}_{name}")
        }
        if address:
            order[field] = address
    order["lines"] = [
        {name: values[f"line_{name}"] for name in LINE_FIELDS if values.get(f"line_{name}")}
        for _, values, _ in group
    ]
    problems = [
        RowProblem(row, "", f"the row has {cells} cells; the header has {width}")
        for row, _, cells in group
        if cells != width
    ]
    problems.extend(
        RowProblem(row, column, f"differs from row {first_row}, where this order starts")
        for row, values, _ in group[1:]
        for column in ORDER_LEVEL_COLUMNS
        if values.get(column) and values[column] != first.get(column)
    )
    rows = [row for row, _, _ in group]
    return Record(
        first_row,
        rows[-1],
        len(rows),
        order,
        tuple(problems),
        _csv_locator(rows),
    )


def _csv_locator(rows: list[int]) -> Callable[[Location], tuple[int, str]]:
    """Validation paths of the canonical order back to CSV rows and columns."""

    def locate(loc: Location) -> tuple[int, str]:
        if not loc:
            return rows[0], ""
        head, rest = str(loc[0]), loc[1:]
        if head == "lines" and rest and isinstance(rest[0], int) and rest[0] < len(rows):
            return rows[rest[0]], f"line_{rest[1]}" if len(rest) > 1 else "lines"
        if head == "customer":
            return rows[0], f"customer_{rest[0]}" if rest else "customer"
        for prefix, field in ADDRESSES.items():
            if head == field:
                return rows[0], f"{prefix}_{rest[0]}" if rest else field
        if head == "tags":
            return rows[0], "tags"
        return rows[0], ".".join(str(part) for part in loc)

    return locate
