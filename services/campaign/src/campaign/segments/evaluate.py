"""Whether a segment's definition holds for one customer at one instant, why, and the next
instant at which time alone could change that (a fact leaving a rolling window, an absence
reaching its length, a funnel's time running out). Pure: no store, no clock."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from campaign.segments.definition import (
    And,
    Condition,
    Event,
    Funnel,
    FunnelStep,
    Not,
    Or,
    PropertyFilter,
    Segment,
    Trait,
)
from campaign.segments.state import CustomerState, Fact

Definitions = Mapping[str, Condition]
"""The definitions `segment` conditions may name, by segment id."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One node of the explanation: whether it holds, in words, and its children's verdicts."""

    kind: str
    holds: bool
    detail: str
    next_change: datetime | None = None
    children: tuple["Verdict", ...] = ()


def evaluate(
    condition: Condition,
    state: CustomerState,
    *,
    now: datetime,
    segments: Definitions | None = None,
) -> Verdict:
    """The verdict of `condition` on `state` at `now`."""
    return _Evaluation(state, now, segments or {}, frozenset()).of(condition)


@dataclass(frozen=True, slots=True)
class _Evaluation:
    state: CustomerState
    now: datetime
    segments: Definitions
    visiting: frozenset[str]

    def of(self, condition: Condition) -> Verdict:
        match condition:
            case And() | Or():
                return self._junction(condition)
            case Not():
                inner = self.of(condition.condition)
                return Verdict(
                    "not", not inner.holds, "the condition does not hold", inner.next_change,
                    (inner,),
                )  # fmt: skip
            case Trait():
                return _trait(condition, self.state.profile)
            case Event():
                return _event(condition, self.state.facts, self.now)
            case Funnel():
                return _funnel(condition, self.state.facts, self.now)
            case Segment():
                return self._segment(condition)

    def _junction(self, condition: And | Or) -> Verdict:
        children = tuple(self.of(c) for c in condition.conditions)
        holding = sum(child.holds for child in children)
        holds = holding == len(children) if condition.kind == "and" else holding > 0
        wanted = "all" if condition.kind == "and" else "at least one"
        detail = f"{holding} of {len(children)} conditions hold ({wanted} must)"
        return Verdict(condition.kind, holds, detail, _earliest(children), children)

    def _segment(self, condition: Segment) -> Verdict:
        definition = self.segments.get(condition.segment_id)
        if definition is None or condition.segment_id in self.visiting:
            return Verdict("segment", False, f"no segment {condition.segment_id!r} to belong to")
        inner = _Evaluation(
            self.state, self.now, self.segments, self.visiting | {condition.segment_id}
        ).of(definition)
        belongs = "belongs" if inner.holds else "does not belong"
        detail = f"{belongs} to segment {condition.segment_id!r}"
        return Verdict("segment", inner.holds, detail, inner.next_change, (inner,))


def _earliest(verdicts: Iterable[Verdict]) -> datetime | None:
    return min((v.next_change for v in verdicts if v.next_change is not None), default=None)


def _trait(condition: Trait, profile: Mapping[str, Any]) -> Verdict:
    actual = _lookup(profile, condition.field)
    match condition.op:
        case "exists":
            holds = actual is not None and actual != []
        case "contains":
            if isinstance(actual, list):
                holds = any(_compare("eq", item, condition.value) for item in actual)
            else:
                holds = isinstance(actual, str) and str(condition.value) in actual
        case "in":
            expected = condition.value if isinstance(condition.value, list) else []
            holds = any(_compare("eq", actual, value) for value in expected)
        case op:
            holds = _compare(op, actual, condition.value)
    shown = "" if condition.op == "exists" else f" {_shown(condition.value)}"
    detail = f"{condition.field} is {_shown(actual)} (needs {condition.op}{shown})"
    return Verdict("trait", holds, detail)


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _compare(op: str, actual: Any, expected: Any) -> bool:
    pair = None if actual is None else _comparable(actual, expected)
    if pair is None:
        return op == "ne"
    left, right = pair
    match op:
        case "eq":
            return bool(left == right)
        case "ne":
            return bool(left != right)
    try:
        match op:
            case "gt":
                return bool(left > right)
            case "gte":
                return bool(left >= right)
            case "lt":
                return bool(left < right)
            case _:
                return bool(left <= right)
    except TypeError:
        return False


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return (actual, expected) if type(actual) is type(expected) else None
    if isinstance(expected, Decimal | int | float):
        # Numbers travel as strings in the contracts (money): compare them as numbers.
        try:
            return Decimal(str(actual)), Decimal(str(expected))
        except InvalidOperation:
            return None
    if isinstance(expected, timedelta):
        return (actual, expected) if isinstance(actual, timedelta) else None
    return str(actual), str(expected)


def _shown(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _matches(fact: Fact, filters: Sequence[PropertyFilter]) -> bool:
    return all(_matches_one(fact, f) for f in filters)


def _matches_one(fact: Fact, where: PropertyFilter) -> bool:
    values = fact.values(where.property)
    if where.op == "in":
        expected = where.value if isinstance(where.value, list) else [where.value]
        return any(_compare("eq", v, e) for v in values for e in expected)
    return any(_compare(where.op, v, where.value) for v in values)


def _event(condition: Event, facts: Sequence[Fact], now: datetime) -> Verdict:
    since = None if condition.in_last is None else now - condition.in_last
    named = [f for f in facts if f.name == condition.name and _matches(f, condition.where)]
    # A fact stamped later than `now` (a clock ahead of ours) counts from its own time on.
    later = [f.at for f in named if f.at > now]
    counted = [f for f in named if f.at <= now and (since is None or f.at > since)]
    changes: list[datetime] = list(later)
    if condition.in_last is not None:
        changes += [f.at + condition.in_last for f in counted]
    span = "" if condition.in_last is None else f" in the last {_duration(condition.in_last)}"
    what = f"{condition.name}{_where(condition.where)}{span}"
    match condition.measure:
        case "count" | "sum":
            measured = (
                Decimal(len(counted))
                if condition.measure == "count"
                else sum((f.total or Decimal(0) for f in counted), Decimal(0))
            )
            holds = _compare(condition.op, measured, condition.value)
            noun = "" if condition.measure == "count" else "sum of total of "
            detail = (
                f"{noun}{what}: {_shown(measured)} (needs {condition.op} {_shown(condition.value)})"
            )
        case _:
            pick: Callable[[Iterable[datetime]], datetime] = (
                min if condition.measure == "first_at" else max
            )
            ago = condition.ago or timedelta(0)
            if not counted:
                holds, detail = False, f"no {what}"
            else:
                at = pick(f.at for f in counted)
                holds = _compare(condition.op, now - at, ago)
                changes.append(at + ago)
                which = "first" if condition.measure == "first_at" else "last"
                detail = (
                    f"{which} {what} {_duration(now - at)} ago (needs {condition.op} "
                    f"{_duration(ago)})"
                )
    return Verdict("event", holds, detail, _next(changes, now))


def _funnel(condition: Funnel, facts: Sequence[Fact], now: datetime) -> Verdict:
    ordered = sorted((f for f in facts if f.at <= now), key=lambda f: f.at)
    since = None if condition.in_last is None else now - condition.in_last
    positive = [step for step in condition.steps if not step.absent]
    absent = condition.steps[-1] if condition.steps[-1].absent else None
    changes = [f.at for f in facts if f.at > now]
    completed = 0
    for index, start in enumerate(ordered):
        first = positive[0]
        if start.name != first.name or not _matches(start, first.where):
            continue
        if since is not None and start.at <= since:
            continue
        deadline = start.at + condition.within
        keys: Sequence[str | None] = start.skus if condition.same == "sku" else (None,)
        for key in keys:
            last = _follow(positive[1:], ordered[index + 1 :], start, deadline, key)
            if last is None:
                continue
            if absent is not None:
                if any(
                    _step_matches(absent, f, key) and last.at < f.at <= deadline for f in ordered
                ):
                    continue
                if now < deadline:
                    changes.append(deadline)
                    continue
            completed += 1
            if condition.in_last is not None:
                changes.append(start.at + condition.in_last)
    steps = " then ".join(
        ("no " if step.absent else "") + step.name + _where(step.where) for step in condition.steps
    )
    same = "" if condition.same is None else f", on one {condition.same}"
    detail = f"{steps} within {_duration(condition.within)}{same}: completed {completed} times"
    return Verdict("funnel", completed > 0, detail, _next(changes, now))


def _follow(
    steps: Sequence[FunnelStep],
    facts: Sequence[Fact],
    start: Fact,
    deadline: datetime,
    key: str | None,
) -> Fact | None:
    """The fact completing `steps` in order after `start` and by `deadline`, taking the
    earliest match of each step (which can only leave more room to the next)."""
    last = start
    remaining = iter(facts)
    for step in steps:
        found = next((f for f in remaining if f.at > deadline or _step_matches(step, f, key)), None)
        if found is None or found.at > deadline:
            return None
        last = found
    return last


def _step_matches(step: FunnelStep, fact: Fact, key: str | None) -> bool:
    return (
        fact.name == step.name and _matches(fact, step.where) and (key is None or key in fact.skus)
    )


def _next(changes: Iterable[datetime], now: datetime) -> datetime | None:
    return min((at for at in changes if at > now), default=None)


def _where(filters: Sequence[PropertyFilter]) -> str:
    if not filters:
        return ""
    return " with " + " and ".join(f"{f.property} {f.op} {_shown(f.value)}" for f in filters)


def _duration(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        return f"{span.days} days"
    if span % timedelta(hours=1) == timedelta(0):
        return f"{span // timedelta(hours=1)} hours"
    return f"{int(span.total_seconds())} seconds"
