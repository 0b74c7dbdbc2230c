"""Checking one order on its own: the contract, the import's store, what PostgreSQL can hold."""

import json
from typing import Any

from crm_events.shop import CANONICAL_ORDER_EXAMPLE, CanonicalOrder
from order_sync.orders.validation import (
    MAX_QUANTITY,
    Rejected,
    storage_problems,
    validate_order,
)


def order(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(json.dumps(CANONICAL_ORDER_EXAMPLE))
    raw.update(overrides)
    return raw


def fields(result: CanonicalOrder | Rejected) -> list[str]:
    assert isinstance(result, Rejected)
    return [problem.field for problem in result.problems]


def test_a_valid_order_is_the_canonical_order() -> None:
    result = validate_order(order(external_id=9007199254740993))

    assert isinstance(result, CanonicalOrder)
    assert result.external_id == "9007199254740993"


def test_every_contract_error_is_named() -> None:
    result = validate_order(order(total=32.5, lines=[{"name": "Mug", "quantity": 0}]))

    assert sorted(fields(result)) == ["lines.0.quantity", "lines.0.unit_price", "total"]


def test_what_is_not_an_object_is_rejected_as_a_whole() -> None:
    assert fields(validate_order([1, 2])) == [""]
    assert fields(validate_order(None)) == [""]


def test_an_import_fills_in_its_store_and_refuses_another() -> None:
    without = {k: v for k, v in order().items() if k != "store_id"}

    filled = validate_order(without, store_id="mine")
    other = validate_order(order(store_id="theirs"), store_id="mine")

    assert isinstance(filled, CanonicalOrder)
    assert filled.store_id == "mine"
    assert fields(other) == ["store_id"]


def test_what_the_database_cannot_hold_is_found_with_its_field() -> None:
    lines = [{"name": "Mug", "quantity": MAX_QUANTITY + 1, "unit_price": "1"}]
    customer = {**CANONICAL_ORDER_EXAMPLE["customer"], "first_name": "A\x00"}
    nul = CanonicalOrder.model_validate(order(note="x\x00y", customer=customer, lines=lines))
    extra = CanonicalOrder.model_validate(order(**{"gift\x00": "yes"}))
    backslash = CanonicalOrder.model_validate(order(note="C:\\u0000 is a path, not a NUL"))

    assert [p.field for p in storage_problems(nul)] == [
        "lines.0.quantity",
        "customer.first_name",
        "note",
    ]
    assert [p.field for p in storage_problems(extra)] == ["gift\x00"]
    assert storage_problems(backslash) == ()
    assert storage_problems(CanonicalOrder.model_validate(order())) == ()
