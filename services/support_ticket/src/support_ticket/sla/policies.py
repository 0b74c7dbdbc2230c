"""SLA policies: which targets a ticket gets, chosen by its attributes.

A policy set is an ordered list of policies and an optional default. A ticket gets the first
policy, by position, whose conditions all hold (a condition left out holds for every ticket),
else the default, else no SLA. Values compare exactly (case matters); a ticket with no value for
an attribute fails every condition on that attribute.
"""

from datetime import timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Value = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Values = Annotated[list[Value], Field(min_length=1, max_length=100)]
Seconds = Annotated[int, Field(gt=0, le=10 * 365 * 24 * 3600)]
MAX_POLICIES = 200


class TicketAttributes(BaseModel):
    """What policy conditions look at."""

    model_config = ConfigDict(frozen=True)

    priority: str | None = None
    channel: str | None = None
    store_id: str | None = None
    value_tier: str | None = None
    """The customer's value tier, as customer-profile announces it."""
    tags: frozenset[str] = frozenset()


class PolicyConditions(BaseModel):
    """All the conditions given must hold; none given matches every ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: Values | None = None
    """The ticket's priority is one of these."""
    channel: Values | None = None
    """The ticket came in through one of these channels."""
    store_id: Values | None = None
    """The ticket belongs to one of these stores."""
    value_tier: Values | None = None
    """The customer's value tier is one of these."""
    tags: Values | None = None
    """The ticket carries at least one of these tags."""

    @property
    def empty(self) -> bool:
        return not any((self.priority, self.channel, self.store_id, self.value_tier, self.tags))

    def match(self, ticket: TicketAttributes) -> bool:
        """Whether every condition given holds for `ticket`."""
        one_of = (
            (self.priority, ticket.priority),
            (self.channel, ticket.channel),
            (self.store_id, ticket.store_id),
            (self.value_tier, ticket.value_tier),
        )
        if any(allowed is not None and value not in allowed for allowed, value in one_of):
            return False
        return self.tags is None or not ticket.tags.isdisjoint(self.tags)


class SlaTargets(BaseModel):
    """Targets in business seconds of the policy's calendar; a target left out is not tracked.

    The warning comes when `warning_lead_seconds` of business time are left before a target
    (at the clock's start when the lead is as long as the target)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response_seconds: Seconds | None = None
    """From creation to the first public reply of an agent."""
    next_response_seconds: Seconds | None = None
    """From a customer's message to the agent's public reply, after the first response."""
    resolution_seconds: Seconds | None = Field(default=None, validate_default=True)
    """From creation to solved."""
    warning_lead_seconds: Seconds | None = None
    """No warning when left out."""

    @field_validator("resolution_seconds")
    @classmethod
    def _some_target(cls, value: int | None, info: ValidationInfo) -> int | None:
        # A target that failed its own validation is absent from `info.data`: no second error.
        others = ("first_response_seconds", "next_response_seconds")
        if value is None and all(name in info.data and info.data[name] is None for name in others):
            raise ValueError("at least one of the three targets")
        return value

    @property
    def first_response(self) -> timedelta | None:
        return _duration(self.first_response_seconds)

    @property
    def next_response(self) -> timedelta | None:
        return _duration(self.next_response_seconds)

    @property
    def resolution(self) -> timedelta | None:
        return _duration(self.resolution_seconds)

    @property
    def warning_lead(self) -> timedelta | None:
        return _duration(self.warning_lead_seconds)


class SlaPolicy(BaseModel):
    """Targets for the tickets its conditions match, counted on one business calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    conditions: PolicyConditions = PolicyConditions()
    targets: SlaTargets
    calendar_id: Name
    """The business calendar whose open hours count."""


class PolicySet(BaseModel):
    """The policies of the service in the order they are tried, and the one for the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: list[SlaPolicy] = Field(default_factory=list, max_length=MAX_POLICIES)
    default: SlaPolicy | None = None
    """Applies to tickets no policy matches; it takes no conditions."""

    @field_validator("policies")
    @classmethod
    def _unique_names(cls, value: list[SlaPolicy]) -> list[SlaPolicy]:
        names = [policy.name for policy in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"policy names must be unique: {', '.join(repeated)}")
        return value

    @field_validator("default")
    @classmethod
    def _unconditional(cls, value: SlaPolicy | None) -> SlaPolicy | None:
        if value is not None and not value.conditions.empty:
            raise ValueError("the default policy applies to every other ticket: no conditions")
        return value

    def select(self, ticket: TicketAttributes) -> SlaPolicy | None:
        """The first policy matching `ticket`, else the default (None: no SLA)."""
        return next((p for p in self.policies if p.conditions.match(ticket)), self.default)


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
