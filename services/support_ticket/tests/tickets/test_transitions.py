"""Status transitions and the events they call for (no infrastructure)."""

import json
from datetime import UTC, datetime

import pytest
from crm_events.ticket import (
    TICKET_ASSIGNED,
    TICKET_CREATED,
    TICKET_REPLIED,
    TICKET_SOLVED,
    TICKET_STATUS_CHANGED,
    TICKET_UPDATED,
    MessageAuthor,
    TicketChannel,
)
from crm_events.ticket import TicketStatus as S
from support_ticket.tickets.events import Reply, announcement, pending_event
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


def test_each_change_is_told_by_the_one_event_that_fits_it_best():
    before = ticket(S.OPEN)
    solved = before.model_copy(update={"status": S.SOLVED, "version": 2})
    pending = before.model_copy(update={"status": S.PENDING, "version": 2})
    assigned = before.model_copy(update={"assignee_id": "agent-7", "version": 2})
    regrouped = before.model_copy(update={"group_id": "tier-2", "version": 2})
    tagged = before.model_copy(update={"tags": ["x"], "version": 2})
    reply = Reply(message_id="m-1", author=MessageAuthor.AGENT)

    assert announcement(None, before) == (TICKET_CREATED, {})
    assert announcement(before, solved) == (TICKET_SOLVED, {})
    assert announcement(before, solved, reply=reply) == (TICKET_SOLVED, {})
    assert announcement(before, pending, reply=reply) == (
        TICKET_REPLIED,
        {"message_id": "m-1", "author": MessageAuthor.AGENT},
    )
    assert announcement(before, pending) == (TICKET_STATUS_CHANGED, {"previous_status": S.OPEN})
    assert announcement(before, assigned.model_copy(update={"status": S.PENDING}))[0] is (
        TICKET_STATUS_CHANGED
    )
    assert announcement(before, assigned) == (
        TICKET_ASSIGNED,
        {"previous_assignee_id": None, "previous_group_id": None},
    )
    assert announcement(before, regrouped)[0] is TICKET_ASSIGNED
    assert announcement(before, tagged) == (TICKET_UPDATED, {})
    assert announcement(solved, solved) == (TICKET_UPDATED, {})


@pytest.mark.parametrize(
    ("after", "reply"),
    [
        ({"status": S.PENDING}, None),
        ({"assignee_id": "agent-7"}, None),
        ({}, Reply(message_id="m-1", author=MessageAuthor.CUSTOMER)),
    ],
)
def test_every_specific_event_is_valid_under_its_contract(after, reply):
    before = ticket(S.OPEN)
    changed = before.model_copy(update={**after, "version": 2})
    event = pending_event(before, changed, reply=reply)
    contract, extra = announcement(before, changed, reply=reply)
    envelope = json.loads(event.payload)
    assert envelope["type"] == contract.type
    body = contract.model.model_validate(envelope["data"])
    assert body.version == 2
    assert {name: getattr(body, name) for name in extra} == extra


def test_a_pending_event_is_a_valid_envelope_without_subject_or_name():
    event = pending_event(None, ticket())
    body = TICKET_CREATED.model.model_validate(json.loads(event.payload)["data"])
    assert body.version == event.version == 1
    assert b"Where is my parcel" not in event.payload
    assert b"Ann" not in event.payload
