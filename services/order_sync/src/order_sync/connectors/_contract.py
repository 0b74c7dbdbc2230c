"""Validating a mapped payload against an event contract other than the canonical order."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from order_sync.connectors._fields import FieldProblem, PayloadError

ModelT = TypeVar("ModelT", bound=BaseModel)


def validated(model: type[ModelT], fields: dict[str, Any], *, origin: str) -> ModelT:
    """`fields` as `model`; the contract's complaints name its fields, prefixed with `origin`,
    so they read as mapping results (`canonical.customer`), never as the platform's fields."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        problems = [
            FieldProblem(".".join([origin, *(str(part) for part in item["loc"])]), str(item["msg"]))
            for item in error.errors()
        ]
        raise PayloadError(problems) from error
