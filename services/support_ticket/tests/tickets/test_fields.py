"""Custom field values against a store's definitions (no infrastructure)."""

import pytest
from support_ticket.tickets.exceptions import InvalidTicket
from support_ticket.tickets.fields import validated
from support_ticket.tickets.models import FieldDefinition, FieldType


def definition(key: str, type_: FieldType, **extra: object) -> FieldDefinition:
    return FieldDefinition(store_id="s", key=key, label=key, type=type_, **extra)


DEFINITIONS = [
    definition("order_ref", FieldType.TEXT, required=True),
    definition("amount", FieldType.NUMBER),
    definition("gift", FieldType.CHECKBOX),
    definition("ordered_on", FieldType.DATE),
    definition("reason", FieldType.DROPDOWN, options=["damaged", "late"]),
]


def test_values_of_each_type_are_kept_as_stored():
    values = {
        "order_ref": "A-1",
        "amount": 12.5,
        "gift": True,
        "ordered_on": "2026-11-02",
        "reason": "late",
    }
    assert validated(values, DEFINITIONS, complete=True) == values


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("amount", "12"),
        ("amount", True),
        ("amount", 2**60),
        ("gift", "yes"),
        ("ordered_on", "02/11/2026"),
        ("reason", "other"),
        ("order_ref", 5),
        ("unknown", "x"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(key, value):
    with pytest.raises(InvalidTicket) as refused:
        validated({"order_ref": "A-1", key: value}, DEFINITIONS, complete=True)
    assert [error["field"] for error in refused.value.errors or ()] == [f"custom_fields.{key}"]


def test_a_required_field_is_needed_on_a_whole_ticket_but_not_on_a_change():
    with pytest.raises(InvalidTicket) as refused:
        validated({"amount": 1}, DEFINITIONS, complete=True)
    assert refused.value.errors[0]["field"] == "custom_fields.order_ref"
    assert validated({"amount": 1}, DEFINITIONS, complete=False) == {"amount": 1}


def test_a_required_field_cannot_be_cleared():
    with pytest.raises(InvalidTicket):
        validated({"order_ref": None}, DEFINITIONS, complete=False)
    assert validated({"amount": None}, DEFINITIONS, complete=False) == {"amount": None}
