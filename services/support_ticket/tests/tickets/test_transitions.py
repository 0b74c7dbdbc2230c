"""Status transitions and the events they call for (no infrastructure)."""

import json
from datetime import UTC, datetime

import pytest
from crm_events.ticket import TICKET_CREATED, TICKET_SOLVED, TICKET_UPDATED, TicketChannel
from crm_events.ticket import TicketStatus as S
from support_ticket.tickets.events import contract_for, pending_event
from support_ticket.tickets.exceptions import InvalidTicket
from support_ticket.tickets.models import Requester, Ticket
from support_ticket.tickets.service import ALLOWED, transition

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ticket(status: S = S.NEW) -> Ticket:
    return Ticket(
        ticket_id="t-1",
        number=10001,
        subject="Where is my parcel?",
        channel=TicketChannel.EMAIL,
        status=status,
        requester=Requester(email="ann@example.com", name="Ann"),
        created_at=AT,
        updated_at=AT,
    )


@pytest.mark.parametrize(("start", "to"), [(s, t) for s in S for t in ALLOWED[s]])
def test_every_allowed_move_happens(start, to):
    moved = ticket(start)
    transition(moved, to, at=AT)
    assert moved.status is to


@pytest.mark.parametrize(
    ("start", "to"), [(s, t) for s in S for t in S if t not in ALLOWED[s] and t is not s]
)
def test_every_other_move_is_refused_naming_the_status(start, to):
    with pytest.raises(InvalidTicket) as refused:
        transition(ticket(start), to, at=AT)
    assert refused.value.errors[0]["field"] == "status"


def test_nothing_leaves_closed_and_nothing_returns_to_new():
    assert ALLOWED[S.CLOSED] == frozenset()
    assert all(S.NEW not in targets for targets in ALLOWED.values())


def test_reopening_a_solved_ticket_counts_and_solving_stamps_the_time():
    worked = ticket(S.OPEN)
    transition(worked, S.SOLVED, at=AT)
    assert worked.solved_at == AT
    transition(worked, S.OPEN, at=AT)
    assert worked.reopened_count == 1
    transition(worked, S.SOLVED, at=AT)
    transition(worked, S.CLOSED, at=AT)
    assert worked.reopened_count == 1


def test_the_event_is_created_then_solved_or_updated():
    before = ticket(S.OPEN)
    solved = before.model_copy(update={"status": S.SOLVED, "version": 2})
    tagged = before.model_copy(update={"tags": ["x"], "version": 2})
    assert contract_for(None, before) is TICKET_CREATED
    assert contract_for(before, solved) is TICKET_SOLVED
    assert contract_for(before, tagged) is TICKET_UPDATED
    assert contract_for(solved, solved) is TICKET_UPDATED


def test_a_pending_event_is_a_valid_envelope_without_subject_or_name():
    event = pending_event(None, ticket())
    body = TICKET_CREATED.model.model_validate(json.loads(event.payload)["data"])
    assert body.version == event.version == 1
    assert b"Where is my parcel" not in event.payload
    assert b"Ann" not in event.payload
