"""Annotated types shared by every contract: money, currency, UTC times and external ids.

Each one is lenient where a producer may reasonably differ (an int id, a lower-case currency)
but always writes one canonical JSON form, which is what its JSON Schema describes.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from crm_common.envelope import UtcDatetime, format_rfc3339
from pydantic import BeforeValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema

__all__ = [
    "MONEY_PATTERN",
    "Country",
    "Currency",
    "ExternalId",
    "Money",
    "NonEmptyStr",
    "OptionalCountry",
    "OptionalText",
    "UtcDatetime",
    "format_rfc3339",
]

MONEY_PATTERN = r"^-?\d+(\.\d+)?$"
_MONEY = re.compile(MONEY_PATTERN)


def _to_money(value: Any) -> Decimal:
    # bool is an int subclass; a float has already lost the cents we would be asked to keep.
    if isinstance(value, bool):
        raise ValueError("money must be a decimal string, not a boolean")
    if isinstance(value, float):
        raise ValueError("money must be a decimal string such as '12.50', never a float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("money must be a finite amount")
        return value
    if isinstance(value, str):
        if not _MONEY.fullmatch(value):
            raise ValueError("money must be a decimal string such as '12.50' or '-3'")
        try:
            return Decimal(value)
        except InvalidOperation as error:  # unreachable after the pattern, kept as a guard
            raise ValueError(f"not a decimal amount: {value!r}") from error
    raise ValueError(f"money must be a decimal string, not {type(value).__name__}")


def _money_to_str(value: Decimal) -> str:
    # Fixed-point notation: str(Decimal("1E+2")) would give "1E+2", which the pattern forbids.
    return format(value, "f")


Money = Annotated[
    Decimal,
    PlainValidator(_to_money),
    PlainSerializer(_money_to_str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN}),
]
"""A decimal amount, written in JSON as a string (`"12.50"`); ints are accepted, floats never."""


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), BeforeValidator(_upper)]
"""An ISO 4217 currency code such as `USD`; lower-case input is upper-cased."""


def _to_external_id(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an id must be a string, not a boolean")
    if isinstance(value, float):
        raise ValueError("an id must be a string or an integer, never a float (it loses digits)")
    if isinstance(value, int):
        return str(value)
    return value


ExternalId = Annotated[str, Field(min_length=1), BeforeValidator(_to_external_id)]
"""A platform's id as a string; an int becomes its exact digits (Shopify ids exceed 2^53)."""


NonEmptyStr = Annotated[str, Field(min_length=1)]


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
"""Free text as the sender wrote it; an empty or blank string is stored as null."""


Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), BeforeValidator(_upper)]
"""An ISO 3166-1 alpha-2 country code such as `US`; lower-case input is upper-cased."""

OptionalCountry = Annotated[Country | None, BeforeValidator(_blank_to_none)]
"""A `Country` or null; an empty string counts as null."""
