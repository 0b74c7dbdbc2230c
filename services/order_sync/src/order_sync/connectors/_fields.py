"""Reading a platform's JSON: exact numbers, and every problem named by its path in the payload."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_events.shop import CanonicalOrder
from pydantic import ValidationError

Json = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    """Where in the platform's payload, e.g. `line_items[0].price`."""
    message: str


class PayloadError(ValueError):
    """A payload that cannot become a canonical order; `problems` names each field at fault."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers kept exact.

    Integers stay Python ints (a Shopify id beyond 2^53 keeps every digit) and numbers with a
    fraction become Decimal, so no value ever passes through a float.
    """
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError([FieldProblem("body", f"not valid JSON: {error}")]) from error
    if not isinstance(value, dict):
        raise PayloadError([FieldProblem("body", "expected a JSON object")])
    return value


class Reader:
    """Reads typed values out of a payload, collecting every problem instead of stopping at one."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(FieldProblem(field, message))

    def check(self) -> None:
        if self.problems:
            raise PayloadError(self.problems)

    def obj(self, value: Any, field: str) -> Json:
        """A nested object; null or absent reads as empty."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(field, "expected an object")
            return {}
        return value

    def items(self, value: Any, field: str) -> list[Json]:
        """A list of objects; null or absent reads as empty."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(field, "expected a list")
            return []
        found: list[Json] = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                found.append(item)
            else:
                self.fail(f"{field}[{index}]", "expected an object")
        return found

    def text(self, value: Any, field: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(field, "expected a string")
            return None
        return str(value)

    def ident(self, value: Any, field: str, *, zero_is_none: bool = False) -> str | None:
        """A platform id as its exact digits (or as the string it was sent as)."""
        if value is None or (zero_is_none and value in (0, "0", "")):
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(field, "an id must be an integer or a string, never a fraction")
            return None
        return str(value) if str(value) else None

    def code(self, value: Any, field: str, *, length: int) -> str | None:
        """An ISO code of `length` letters (ISO 4217 currency, ISO 3166-1 alpha-2 country)."""
        if value is None or value == "":
            return None
        valid = isinstance(value, str) and len(value) == length
        if not (valid and value.isascii() and value.isalpha()):
            self.fail(field, f"expected an ISO code of {length} letters, got {value!r}")
            return None
        return str(value).upper()

    def integer(self, value: Any, field: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "expected an integer")
            return None
        return value

    def money(self, value: Any, field: str, *, required: bool = True) -> Decimal | None:
        """An amount sent as a decimal string (or a JSON number, read exactly)."""
        if value is None:
            if required:
                self.fail(field, "an amount is required")
            return None
        if isinstance(value, bool):
            self.fail(field, "expected a decimal amount")
            return None
        if isinstance(value, int | Decimal):
            return Decimal(value)
        if isinstance(value, str):
            try:
                amount = Decimal(value.strip())
            except InvalidOperation:
                amount = None
            if amount is not None and amount.is_finite():
                return amount
        self.fail(field, f"expected a decimal amount, got {value!r}")
        return None

    def time(self, value: Any, field: str, *, naive_is_utc: bool = False) -> datetime | None:
        """An ISO 8601 time; one without an offset is UTC only where the platform says so."""
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.fail(field, "expected an ISO 8601 date-time string")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(field, f"not an ISO 8601 date-time: {value!r}")
            return None
        if parsed.tzinfo is None:
            if not naive_is_utc:
                self.fail(field, f"a date-time needs a UTC offset: {value!r}")
                return None
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


def canonical(fields: dict[str, Any], *, origin: str) -> CanonicalOrder:
    """Validate the mapped fields against the contract; its complaints name canonical fields,
    prefixed with `origin` (what the platform calls the order) so they read as mapping results."""
    try:
        return CanonicalOrder.model_validate(fields)
    except ValidationError as error:
        problems = [
            FieldProblem(".".join([origin, *(str(part) for part in item["loc"])]), str(item["msg"]))
            for item in error.errors()
        ]
        raise PayloadError(problems) from error
