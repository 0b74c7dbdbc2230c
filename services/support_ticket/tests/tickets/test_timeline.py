"""A ticket's SLA timeline read from the ticket and its history, and the deadlines and alerts it
gives (no infrastructure). 2026-01-12 is a Monday; the office is open 09:00-17:00 UTC on
weekdays."""

from datetime import UTC, datetime, timedelta

from crm_events.ticket import SlaTarget, TicketChannel, TicketStatus
from support_ticket.sla.calendar import BusinessCalendar, CalendarDefinition
from support_ticket.sla.clock import Pause
from support_ticket.sla.policies import SlaPolicy, SlaTargets
from support_ticket.sla.service import Selected
from support_ticket.tickets.deadlines import AlertKind, deadlines
from support_ticket.tickets.models import HistoryEntry, Ticket
from support_ticket.tickets.timeline import timeline_of

H = timedelta(hours=1)
CREATED = datetime(2026, 1, 12, 9, tzinfo=UTC)
OFFICE = BusinessCalendar(
    CalendarDefinition(
        time_zone="UTC",
        opening_hours=[
            {"weekday": day, "start": "09:00", "end": "17:00"}
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
        ],
    )
)


def ticket(*moves: tuple[float, TicketStatus], **fields: object) -> Ticket:
    """A ticket opened at CREATED, then moved to each status `hours` after it."""
    history = [HistoryEntry(at=CREATED, actor="agent-1", action="created")]
    status = TicketStatus.NEW
    for hours, to in moves:
        change = {"status": {"old": status.value, "new": to.value}}
        history.append(
            HistoryEntry(at=CREATED + hours * H, actor="agent-1", action="updated", changes=change)
        )
        status = to
    return Ticket(
        ticket_id="t-1",
        number=10001,
        subject="Parcel",
        channel=TicketChannel.EMAIL,
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
        history=history,
        **fields,
    )


def policy(**hours: float) -> Selected:
    targets = {f"{name}_seconds": int(value * 3600) for name, value in hours.items()}
    return Selected(
        policy=SlaPolicy(
            name="standard", targets=SlaTargets.model_validate(targets), calendar_id="office"
        ),
        calendar=OFFICE,
    )


class TestTimeline:
    def test_a_new_ticket_has_no_pause_reply_or_solve(self):
        timeline = timeline_of(ticket())
        assert timeline.created_at == CREATED
        assert list(timeline.pauses) == []
        assert (timeline.first_reply_at, timeline.solved_at) == (None, None)

    def test_pending_and_on_hold_pause_until_the_ticket_moves_on(self):
        moved = ticket(
            (1, TicketStatus.OPEN),
            (2, TicketStatus.PENDING),
            (3, TicketStatus.ON_HOLD),  # still paused: one pause
            (5, TicketStatus.OPEN),
            (6, TicketStatus.ON_HOLD),
        )
        assert list(timeline_of(moved).pauses) == [
            Pause(CREATED + 2 * H, CREATED + 5 * H),
            Pause(CREATED + 6 * H),
        ]

    def test_a_pause_ends_when_the_ticket_is_solved(self):
        moved = ticket((1, TicketStatus.PENDING), (2, TicketStatus.SOLVED))
        assert list(timeline_of(moved).pauses) == [Pause(CREATED + H, CREATED + 2 * H)]

    def test_solved_counts_only_while_the_ticket_stays_solved(self):
        solved_at = CREATED + 2 * H
        solved = ticket((2, TicketStatus.SOLVED), solved_at=solved_at)
        closed = ticket((2, TicketStatus.SOLVED), (3, TicketStatus.CLOSED), solved_at=solved_at)
        reopened = ticket((2, TicketStatus.SOLVED), (3, TicketStatus.OPEN), solved_at=solved_at)
        assert timeline_of(solved).solved_at == solved_at
        assert timeline_of(closed).solved_at == solved_at
        assert timeline_of(reopened).solved_at is None

    def test_the_reply_and_the_waiting_customer_come_from_the_ticket(self):
        replied = ticket(first_responded_at=CREATED + H, customer_waiting_since=CREATED + 3 * H)
        timeline = timeline_of(replied)
        assert timeline.first_reply_at == CREATED + H
        assert timeline.customer_waiting_since == CREATED + 3 * H

    def test_history_out_of_order_is_read_in_time_order(self):
        moved = ticket((1, TicketStatus.PENDING), (2, TicketStatus.OPEN))
        moved.history.reverse()
        assert list(timeline_of(moved).pauses) == [Pause(CREATED + H, CREATED + 2 * H)]


class TestDeadlines:
    def test_without_a_policy_there_is_no_sla(self):
        found = deadlines(ticket(), None, now=CREATED)
        assert (found.sla, found.next_alert_at, found.alerts) == (None, None, [])

    def test_a_running_clock_is_looked_at_again_at_its_warning_then_its_due(self):
        selected = policy(first_response=4, resolution=16, warning_lead=1)
        found = deadlines(ticket(), selected, now=CREATED + H)
        assert found.sla is not None
        assert found.sla.policy_id == "standard"
        assert found.sla.first_response_due_at == CREATED + 4 * H
        # 16 business hours: two working days.
        assert found.sla.resolution_due_at == CREATED + 24 * H + 8 * H
        assert found.next_alert_at == CREATED + 3 * H
        assert found.alerts == []
        later = deadlines(ticket(), selected, now=CREATED + 3 * H)
        assert [(a.target, a.kind) for a in later.alerts] == [
            (SlaTarget.FIRST_RESPONSE, AlertKind.WARNING)
        ]
        assert later.next_alert_at == CREATED + 3 * H

    def test_a_pause_moves_the_due_instant_and_stops_the_alerts(self):
        selected = policy(first_response=4)
        paused = ticket((1, TicketStatus.PENDING))
        found = deadlines(paused, selected, now=CREATED + 5 * H)
        assert found.sla is not None
        assert found.sla.first_response_due_at is None
        assert (found.next_alert_at, found.alerts) == (None, [])
        resumed = ticket((1, TicketStatus.PENDING), (3, TicketStatus.OPEN))
        again = deadlines(resumed, selected, now=CREATED + 3 * H)
        assert again.sla is not None
        assert again.sla.first_response_due_at == CREATED + 6 * H

    def test_a_breach_is_owed_once_per_due_instant_and_comes_before_a_warning(self):
        selected = policy(first_response=1, resolution=2, warning_lead=1)
        late = ticket()
        found = deadlines(late, selected, now=CREATED + 1 * H)
        assert [(a.target, a.kind) for a in found.alerts] == [
            (SlaTarget.FIRST_RESPONSE, AlertKind.BREACHED),
            (SlaTarget.RESOLUTION, AlertKind.WARNING),
        ]
        assert found.sla is not None
        assert found.sla.breached == [SlaTarget.FIRST_RESPONSE]
        late.sla_announced = [alert.key for alert in found.alerts]
        assert deadlines(late, selected, now=CREATED + 1 * H).alerts == []

    def test_an_answered_target_is_met_and_its_business_time_kept(self):
        selected = policy(first_response=4)
        answered = ticket(first_responded_at=CREATED + 2 * H)
        found = deadlines(answered, selected, now=CREATED + 5 * H)
        assert found.sla is not None
        assert (found.sla.first_response_due_at, found.sla.breached) == (None, [])
        assert found.first_response_seconds == 2 * 3600
        assert (found.next_alert_at, found.alerts) == (None, [])
