"""Custom ticket fields: each store defines its own, typed, and every value set is checked."""

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from support_ticket.tickets.exceptions import InvalidTicket
from support_ticket.tickets.models import FieldDefinition, FieldType


def validated(
    values: Mapping[str, Any],
    definitions: Sequence[FieldDefinition],
    *,
    complete: bool,
) -> dict[str, Any]:
    """`values` as stored (dates as ISO strings), or `InvalidTicket` naming the first bad field.

    `complete` (a whole ticket rather than a change) also requires the required fields; a value
    of None clears a field."""
    by_key = {definition.key: definition for definition in definitions}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        where = f"custom_fields.{key}"
        definition = by_key.get(key)
        if definition is None:
            raise InvalidTicket(where, "no such field is defined for the ticket's store")
        if value is None:
            if definition.required:
                raise InvalidTicket(where, "the field is required")
            cleaned[key] = None
            continue
        cleaned[key] = _value(definition, value, where)
    if complete:
        for definition in definitions:
            if definition.required and cleaned.get(definition.key) is None:
                raise InvalidTicket(f"custom_fields.{definition.key}", "the field is required")
    return cleaned


def _value(definition: FieldDefinition, value: Any, where: str) -> Any:
    match definition.type:
        case FieldType.TEXT:
            if not isinstance(value, str) or len(value) > 10_000:
                raise InvalidTicket(where, "must be a text of at most 10,000 characters")
            return value
        case FieldType.NUMBER:
            # JSON numbers within the 53 bits a double holds exactly.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidTicket(where, "must be a number")
            if abs(value) > 2**53 or value != value:
                raise InvalidTicket(where, "must be a finite number within ±2^53")
            return value
        case FieldType.CHECKBOX:
            if not isinstance(value, bool):
                raise InvalidTicket(where, "must be true or false")
            return value
        case FieldType.DATE:
            try:
                return date.fromisoformat(value).isoformat()
            except (TypeError, ValueError):
                raise InvalidTicket(where, "must be a date, YYYY-MM-DD") from None
        case FieldType.DROPDOWN:
            if value not in definition.options:
                raise InvalidTicket(where, f"must be one of {', '.join(definition.options)}")
            return value
