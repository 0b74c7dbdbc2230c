"""Checking one order on its own: the contract first, then what order-sync can store and publish."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from crm_events.shop import CanonicalOrder
from pydantic import ValidationError

Location = tuple[str | int, ...]

# order_lines.quantity is a PostgreSQL integer; a larger one would fail the whole transaction.
MAX_QUANTITY = 2**31 - 1

# Shape limits order-sync puts on the contract's lists (v1 of the contract cannot tighten its
# bounds): every stored change is announced with the whole order in one Kafka record, so an
# order far beyond any real basket is refused before it is even snapshotted. Whether its events
# fit is checked on their encoded bytes (`events.publishable_events`).
MAX_LINES = 5000
MAX_RECORDS = 1000
"""At most this many of each of an order's payments, refunds, shipments and returns."""
_LIST_LIMITS = {
    "lines": MAX_LINES,
    **dict.fromkeys(("payments", "refunds", "shipments", "returns"), MAX_RECORDS),
}


@dataclass(frozen=True, slots=True)
class OrderProblem:
    """What is wrong at `loc` (a path inside the order; empty for the order as a whole)."""

    loc: Location
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An order that was refused, with every reason found."""

    problems: tuple[OrderProblem, ...]


def validate_order(raw: Any, *, store_id: str | None = None) -> CanonicalOrder | Rejected:
    """`raw` as a canonical order by the contract, or why it is not one (what the database
    cannot store is checked when storing: `storage_problems`).

    With `store_id` (an import for one store) a missing store id is filled in and another one
    is refused.
    """
    if store_id is not None and isinstance(raw, dict):
        given = raw.get("store_id")
        if given is None or given == "":
            raw = {**raw, "store_id": store_id}
        elif given != store_id:
            return Rejected(
                (OrderProblem(("store_id",), f"this import is for store {store_id}, not {given}"),)
            )
    try:
        return CanonicalOrder.model_validate(raw)
    except ValidationError as error:
        return Rejected(
            tuple(OrderProblem(tuple(item["loc"]), item["msg"]) for item in error.errors())
        )


def storage_problems(order: CanonicalOrder) -> tuple[OrderProblem, ...]:
    """What the contract allows but order-sync refuses: more lines or records than `MAX_LINES`
    and `MAX_RECORDS`, and what the database would refuse, failing every order stored with this
    one: NUL characters (text and jsonb reject them) and quantities beyond an integer."""
    problems = [
        OrderProblem((name,), f"an order may have at most {limit} {name}, not {count}")
        for name, limit in _LIST_LIMITS.items()
        if (count := len(getattr(order, name))) > limit
    ]
    problems += [
        OrderProblem(("lines", position, "quantity"), f"must be at most {MAX_QUANTITY}")
        for position, line in enumerate(order.lines)
        if line.quantity > MAX_QUANTITY
    ]
    # JSON writes NUL as \u0000 (a backslash itself as \\), so any order holding one is found
    # here; only those are walked to name the fields.
    if "\\u0000" in order.model_dump_json():
        problems.extend(
            OrderProblem(loc, "must not contain the NUL character (\\u0000)")
            for loc in _nul_locations(order.model_dump(), ())
        )
    return tuple(problems)


def _nul_locations(value: Any, loc: Location) -> Iterator[Location]:
    if isinstance(value, str):
        if "\x00" in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                yield (*loc, key)
            else:
                yield from _nul_locations(item, (*loc, key))
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            yield from _nul_locations(item, (*loc, position))
