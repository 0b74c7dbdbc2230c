"""The SLA configuration: business calendars and the ordered policy set, stored and checked, and
the policy (with its calendar) that applies to a ticket."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from support_ticket.sla import repository
from support_ticket.sla.calendar import BusinessCalendar, CalendarDefinition
from support_ticket.sla.exceptions import CalendarNotFound, InvalidSla
from support_ticket.sla.models import StoredCalendar, StoredPolicies
from support_ticket.sla.policies import PolicySet, SlaPolicy, TicketAttributes
from support_ticket.sla.repository import Database
from support_ticket.tickets import leases

MAX_WEEKS = 5 * 52
"""The longest a target may take on its calendar: a calendar open a few minutes a week would
otherwise put a due instant decades away, each evaluation walking there week by week."""
_LEASE = "sla:configuration"
_TARGETS = ("first_response_seconds", "next_response_seconds", "resolution_seconds")


@dataclass(frozen=True)
class Configuration:
    policies: PolicySet
    revision: int


@dataclass(frozen=True)
class Selected:
    """The policy a ticket gets, and the calendar its targets count on."""

    policy: SlaPolicy
    calendar: BusinessCalendar


async def configuration(*, database: Database) -> Configuration:
    stored = await repository.get_policies(database=database)
    return Configuration(policies=stored.policies, revision=stored.revision)


async def select(
    *, database: Database, configuration: Configuration, ticket: TicketAttributes
) -> Selected | None:
    """The policy `ticket` gets under `configuration` and its calendar; None: no SLA."""
    policy = configuration.policies.select(ticket)
    if policy is None:
        return None
    stored = await repository.get_calendar(database=database, calendar_id=policy.calendar_id)
    if stored is None:
        return None  # never stored without its calendars; a policy without one tracks nothing
    return Selected(policy=policy, calendar=business_calendar(stored.definition))


def business_calendar(definition: CalendarDefinition) -> BusinessCalendar:
    """The calculator of `definition`, shared while the definition stays the same (it keeps
    each year's holidays once computed)."""
    return _calculator(definition.model_dump_json())


@functools.lru_cache(maxsize=64)
def _calculator(definition: str) -> BusinessCalendar:
    return BusinessCalendar(CalendarDefinition.model_validate_json(definition))


async def get_calendar(*, database: Database, calendar_id: str) -> StoredCalendar:
    stored = await repository.get_calendar(database=database, calendar_id=calendar_id)
    if stored is None:
        raise CalendarNotFound(calendar_id)
    return stored


async def put_calendar(
    *, database: Database, calendar_id: str, definition: CalendarDefinition
) -> StoredCalendar:
    """Store (or replace) a calendar; the open tickets' SLAs are computed again."""
    async with leases.held(database, _LEASE):
        stored = await repository.get_policies(database=database)
        for where, policy in _policies(stored.policies):
            if policy.calendar_id == calendar_id:
                _check_reach(policy, definition, where=where, field="opening_hours")
        calendar = StoredCalendar(calendar_id=calendar_id, definition=definition, updated_at=_now())
        await repository.save_calendar(database=database, calendar=calendar)
        # After the calendar: a ticket computed with the new revision saw the new calendar.
        await repository.save_policies(
            database=database,
            stored=stored.model_copy(update={"revision": stored.revision + 1}),
        )
    return calendar


async def get_policies(*, database: Database) -> StoredPolicies:
    return await repository.get_policies(database=database)


async def put_policies(*, database: Database, policies: PolicySet) -> StoredPolicies:
    """Replace the policy set; every calendar it names must exist. The open tickets' SLAs are
    computed again."""
    async with leases.held(database, _LEASE):
        named = {policy.calendar_id for _, policy in _policies(policies)}
        calendars = await repository.get_calendars(database=database, calendar_ids=named)
        for where, policy in _policies(policies):
            calendar = calendars.get(policy.calendar_id)
            if calendar is None:
                raise InvalidSla(f"{where}.calendar_id", f"no calendar {policy.calendar_id!r}")
            _check_reach(policy, calendar.definition, where=where)
        current = await repository.get_policies(database=database)
        stored = StoredPolicies(policies=policies, revision=current.revision + 1, updated_at=_now())
        await repository.save_policies(database=database, stored=stored)
    return stored


def _policies(policies: PolicySet) -> list[tuple[str, SlaPolicy]]:
    """Each policy with where it sits in the set, as a request names it."""
    placed = [(f"policies.{index}", policy) for index, policy in enumerate(policies.policies)]
    if policies.default is not None:
        placed.append(("default", policies.default))
    return placed


def _check_reach(
    policy: SlaPolicy, definition: CalendarDefinition, *, where: str, field: str | None = None
) -> None:
    if definition.always_open:
        return
    weekly = sum((interval.length for interval in definition.opening_hours), timedelta(0))
    for name in _TARGETS:
        seconds = getattr(policy.targets, name)
        if seconds is not None and timedelta(seconds=seconds) > weekly * MAX_WEEKS:
            raise InvalidSla(
                field or f"{where}.targets.{name}",
                f"policy {policy.name!r}: {name} would take more than {MAX_WEEKS} weeks "
                f"on calendar {policy.calendar_id!r}",
            )


def _now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
