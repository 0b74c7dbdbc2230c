"""Where a ticket stands against its SLA policy, and the warnings and breaches it owes.

Pure: the ticket, the policy chosen for it (with its calendar) and `now` in; the contract's
`TicketSla`, when to look again, and the alerts not yet announced out. An alert is announced
once per (target, kind, due instant): the ticket keeps the keys of those it announced, so a
due instant moved by a pause or a new policy is announced again, and one already announced
never is.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_events.ticket import SlaTarget, TicketSla

from support_ticket.sla.clock import ClockState, ClockStatus, SlaStatus, evaluate
from support_ticket.sla.service import Selected
from support_ticket.tickets.models import Ticket
from support_ticket.tickets.timeline import timeline_of


class AlertKind(StrEnum):
    WARNING = "warning"
    BREACHED = "breached"


@dataclass(frozen=True)
class Alert:
    target: SlaTarget
    kind: AlertKind
    due_at: datetime

    @property
    def key(self) -> str:
        """What the ticket keeps once the alert is announced."""
        return f"{self.target}:{self.kind}:{self.due_at.isoformat(timespec='milliseconds')}"


@dataclass(frozen=True)
class Deadlines:
    sla: TicketSla | None
    next_alert_at: datetime | None
    """When the ticket must be looked at again if nothing changes: now while an alert is
    owed, else the next warning or due instant of a running clock."""
    alerts: list[Alert]
    """Owed and not yet announced, in the order to announce them."""
    first_response_seconds: int | None
    """Business seconds to the first reply, when the policy tracks the first response."""
    resolution_seconds: int | None


NONE = Deadlines(
    sla=None, next_alert_at=None, alerts=[], first_response_seconds=None, resolution_seconds=None
)


def deadlines(ticket: Ticket, selected: Selected | None, *, now: datetime) -> Deadlines:
    """The ticket's SLA at `now` under `selected` (None: no policy applies)."""
    if selected is None:
        return NONE
    status = evaluate(
        timeline=timeline_of(ticket),
        targets=selected.policy.targets,
        calendar=selected.calendar,
        now=now,
    )
    clocks = _clocks(status)
    announced = set(ticket.sla_announced)
    alerts = [
        alert
        for target, clock in clocks
        if (alert := _owed(target, clock)) is not None and alert.key not in announced
    ]
    # Breaches first: a warning owed beside one is stale news.
    alerts.sort(key=lambda alert: alert.kind is not AlertKind.BREACHED)
    sla = TicketSla(
        policy_id=selected.policy.name,
        first_response_due_at=_open_due(status.first_response),
        next_response_due_at=_open_due(status.next_response),
        resolution_due_at=_open_due(status.resolution),
        breached=[target for target, clock in clocks if clock.state is ClockState.BREACHED],
    )
    return Deadlines(
        sla=sla,
        next_alert_at=now if alerts else status.next_alert_at,
        alerts=alerts,
        first_response_seconds=_stopped_seconds(status.first_response),
        resolution_seconds=_stopped_seconds(status.resolution),
    )


def _clocks(status: SlaStatus) -> list[tuple[SlaTarget, ClockStatus]]:
    by_target = (
        (SlaTarget.FIRST_RESPONSE, status.first_response),
        (SlaTarget.NEXT_RESPONSE, status.next_response),
        (SlaTarget.RESOLUTION, status.resolution),
    )
    return [(target, clock) for target, clock in by_target if clock is not None]


def _owed(target: SlaTarget, clock: ClockStatus) -> Alert | None:
    if clock.due_at is None:
        return None
    if clock.state is ClockState.BREACHED:
        return Alert(target, AlertKind.BREACHED, clock.due_at)
    if clock.warning:
        return Alert(target, AlertKind.WARNING, clock.due_at)
    return None


def _open_due(clock: ClockStatus | None) -> datetime | None:
    """The due instant while the target is awaited (the contract's null once met or paused)."""
    return None if clock is None or clock.stopped_at is not None else clock.due_at


def _stopped_seconds(clock: ClockStatus | None) -> int | None:
    if clock is None or clock.stopped_at is None:
        return None
    return int(clock.elapsed.total_seconds())
