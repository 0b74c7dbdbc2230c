"""The segment grammar: a tree of conditions, each a JSON object told apart by its `kind`.

Pure data: pydantic models that document themselves in the OpenAPI document; the evaluator is in
`evaluate.py`. Field names never repeat a `kind` (see `api.py`, which drops the union's tags from
the location of an error so that it reads as the path into the JSON sent).
"""

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from crm_common.http import Text
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

EventName = Literal[
    "order_placed",
    "order_paid",
    "order_refunded",
    "order_cancelled",
    "cart_updated",
    "checkout_started",
    "checkout_abandoned",
]
"""The behaviour campaign records (from crm.orders.v1 and crm.carts.v1)."""

Comparison = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
TraitOperator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
FactProperty = Literal["sku", "total", "currency", "store_id"]

# Where a trait condition looks, in the profile campaign keeps of each customer (see state.py).
TRAIT_FIELD_PATTERN = (
    r"^(email|phone|first_name|last_name|accepts_marketing|tags"
    r"|stats\.(orders_count|total_spent|currency|first_order_at|last_order_at)"
    r"|consent\.(email|sms|push)"
    r"|traits\.[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*)$"
)
TraitField = Annotated[str, StringConstraints(pattern=TRAIT_FIELD_PATTERN, max_length=200)]
# Numbers first: a number stored (as a string, Decimal's JSON form) reads back as a number, and
# compares with numeric profile fields (money travels as strings) as one.
Scalar = Annotated[
    Annotated[Decimal, Field(allow_inf_nan=False)]
    | Annotated[Text, StringConstraints(max_length=500)]
    | bool,
    Field(union_mode="left_to_right"),
]


def _whole_seconds(value: timedelta) -> timedelta:
    if value.microseconds:
        raise ValueError("a window is a whole number of seconds")
    return value


def _as_duration(value: timedelta) -> str:
    """RFC 3339's duration (its appendix A): days and a full time part, never years or months
    (pydantic would write 400 days as `P1Y35D`, which that grammar does not allow)."""
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    days = f"{value.days}D" if value.days else ""
    time = f"T{hours}H{minutes}M{seconds}S" if value.seconds or not value.days else ""
    return f"P{days}{time}"


Window = Annotated[
    timedelta,
    Field(gt=timedelta(0), le=timedelta(days=3660)),
    AfterValidator(_whole_seconds),
    PlainSerializer(_as_duration, return_type=str, when_used="json"),
]
MAX_BRANCHES = 50


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class And(_Node):
    """Holds when every condition holds."""

    kind: Literal["and"]
    conditions: list["Condition"] = Field(min_length=1, max_length=MAX_BRANCHES)


class Or(_Node):
    """Holds when at least one condition holds."""

    kind: Literal["or"]
    conditions: list["Condition"] = Field(min_length=1, max_length=MAX_BRANCHES)


class Not(_Node):
    """Holds when its condition does not."""

    kind: Literal["not"]
    condition: "Condition"


class Trait(_Node):
    """A profile field compared with a value: `tags contains "vip"`, `traits.tier eq "gold"`,
    `consent.email eq "granted"`, `stats.orders_count gte 3`, `email exists`."""

    kind: Literal["trait"]
    field: TraitField
    op: TraitOperator
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_the_operator(self) -> Self:
        if self.op == "exists":
            if self.value is not None:
                raise ValueError("`exists` takes no value")
        elif self.op == "in":
            if not isinstance(self.value, list) or not self.value:
                raise ValueError("`in` needs a non-empty list of values")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"`{self.op}` needs one value")
        return self


class PropertyFilter(_Node):
    """Keeps the events whose property compares so with the value (for `sku`, any of the
    event's SKUs); `in` takes a list."""

    property: FactProperty
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in"]
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_fits_the_operator(self) -> Self:
        if (self.op == "in") != isinstance(self.value, list):
            raise ValueError("`in` takes a list of values, the other operators one value")
        return self


class Event(_Node):
    """A measure of the customer's events of one name, optionally only those in the last
    `in_last` and those matching `where`: how many (`count`), the `sum` of their `total`, or
    how long ago the first or last was (`first_at` / `last_at` with `ago`)."""

    kind: Literal["event"]
    name: EventName
    where: list[PropertyFilter] = Field(default_factory=list, max_length=MAX_BRANCHES)
    in_last: Window | None = None
    measure: Literal["count", "sum", "first_at", "last_at"] = "count"
    op: Comparison = "gte"
    value: Annotated[Decimal, Field(allow_inf_nan=False)] | None = None
    """What `count` or `sum` is compared with."""
    ago: Window | None = None
    """What the time since `first_at` or `last_at` is compared with."""

    @model_validator(mode="after")
    def _operand_fits_the_measure(self) -> Self:
        if self.measure in ("count", "sum"):
            if self.value is None or self.ago is not None:
                raise ValueError(f"`{self.measure}` is compared with `value`, not `ago`")
        elif self.ago is None or self.value is not None:
            raise ValueError(f"`{self.measure}` is compared with `ago`, not `value`")
        return self


class FunnelStep(_Node):
    name: EventName
    where: list[PropertyFilter] = Field(default_factory=list, max_length=MAX_BRANCHES)
    absent: bool = False
    """The last step only: no such event before the funnel's time runs out."""


class Funnel(_Node):
    """Steps in order, all within `within` of the first; with `same`, on one value of that
    property throughout (the same SKU). A last step marked `absent` holds once `within` has
    passed without it."""

    kind: Literal["funnel"]
    steps: list[FunnelStep] = Field(min_length=2, max_length=10)
    within: Window
    same: Literal["sku"] | None = None
    in_last: Window | None = None
    """Only funnels whose first step happened in this last span count."""

    @model_validator(mode="after")
    def _absence_ends_the_funnel(self) -> Self:
        if self.steps[0].absent:
            raise ValueError("the first step cannot be `absent`")
        if any(step.absent for step in self.steps[1:-1]):
            raise ValueError("only the last step can be `absent`")
        return self


class Segment(_Node):
    """Holds when the customer belongs to another segment (by its definition, now)."""

    kind: Literal["segment"]
    segment_id: Annotated[Text, StringConstraints(min_length=1, max_length=100)]


Condition = Annotated[
    And | Or | Not | Trait | Event | Funnel | Segment, Field(discriminator="kind")
]
KINDS = frozenset({"and", "or", "not", "trait", "event", "funnel", "segment"})

And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()


Location = tuple[str | int, ...]


def references(condition: Any, at: Location = ()) -> list[tuple[Location, str]]:
    """Where in `condition` another segment is named (the path to its `segment_id`), and which."""
    match condition:
        case And() | Or():
            return [
                found
                for index, child in enumerate(condition.conditions)
                for found in references(child, (*at, "conditions", index))
            ]
        case Not():
            return references(condition.condition, (*at, "condition"))
        case Segment():
            return [((*at, "segment_id"), condition.segment_id)]
        case _:
            return []
