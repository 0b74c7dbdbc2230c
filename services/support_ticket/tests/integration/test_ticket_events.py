"""crm.tickets.v1 from the events kept in each ticket, and tickets following customer-profile's
attributions, merges, undos and erasures: real Kafka and the real MongoDB-wire server."""

import json
from collections.abc import AsyncIterator

import pytest
from crm_common.kafka import create_broker, ensure_topics
from crm_common.testing.plugin import unique_topic
from crm_events.customer import (
    CUSTOMER_ERASED,
    CUSTOMER_MERGED,
    CUSTOMER_TICKET_ATTRIBUTED,
    CUSTOMER_UNMERGED,
)
from crm_events.ticket import TicketChannel, TicketStatus
from faststream.kafka import KafkaBroker
from support_ticket.tickets import repository, service
from support_ticket.tickets.models import Requester
from support_ticket.tickets.relay import TicketRelay
from support_ticket.tickets.service import NewTicket, transition

pytestmark = pytest.mark.integration


def events_of(records, ticket_id):
    """(type, data) of the ticket's events, in the order read."""
    decoded = [json.loads(record.value) for record in records if record.key == ticket_id.encode()]
    return [(event["type"], event["data"], event["id"]) for event in decoded]


@pytest.fixture
async def broker(kafka_bootstrap) -> AsyncIterator[KafkaBroker]:
    kafka = create_broker(kafka_bootstrap, client_id="support-ticket-relay-test")
    await kafka.start()
    yield kafka
    await kafka.stop()


async def open_one(database, ticket_id="t-1"):
    return await service.open_ticket(
        database=database,
        ticket_id=ticket_id,
        draft=NewTicket(
            subject="Parcel", channel=TicketChannel.EMAIL, requester=Requester(email="a@x.org")
        ),
        actor="agent-1",
    )


async def set_status(database, ticket_id, status):
    def move(ticket, at):
        transition(ticket, status, at=at)

    return await service.change(
        database=database, ticket_id=ticket_id, actor="agent-1", action="updated", mutate=move
    )


async def test_each_change_is_published_in_order_as_its_own_kind_with_a_growing_version(
    client, auth, settings, read_topic
):
    opened = await client.post(
        "/v1/tickets",
        json={"subject": "Parcel", "requester": {"email": "ann@example.com"}},
        headers=auth("agent"),
    )
    ticket_id = opened.json()["ticket_id"]
    path = f"/v1/tickets/{ticket_id}"
    agent = auth("agent")
    await client.patch(path, json={"status": "open", "tags": ["late"]}, headers=agent)
    await client.patch(path, json={"assignee_id": "agent-7", "group_id": "tier-1"}, headers=agent)
    reply = await client.post(f"{path}/messages", json={"body": "On its way"}, headers=agent)
    await client.post(f"{path}/messages", json={"kind": "note", "body": "Asked DHL"}, headers=agent)
    await client.patch(path, json={"priority": "high"}, headers=agent)
    await client.patch(path, json={"status": "solved"}, headers=agent)

    records = await read_topic(
        settings.tickets_topic, lambda records: len(events_of(records, ticket_id)) >= 7
    )
    events = events_of(records, ticket_id)
    assert [(kind, data["version"]) for kind, data, _ in events] == [
        ("crm.ticket.created", 1),
        ("crm.ticket.status_changed", 2),
        ("crm.ticket.assigned", 3),
        ("crm.ticket.replied", 4),
        ("crm.ticket.updated", 5),
        ("crm.ticket.updated", 6),
        ("crm.ticket.solved", 7),
    ]
    assert (events[1][1]["previous_status"], events[1][1]["tags"]) == ("new", ["late"])
    assigned = events[2][1]
    assert (assigned["assignee_id"], assigned["previous_assignee_id"]) == ("agent-7", None)
    replied = events[3][1]
    assert (replied["message_id"], replied["author"]) == (reply.json()["message_id"], "agent")
    assert replied["first_responded_at"] is not None
    assert events[6][1]["solved_at"] is not None
    assert all("subject" not in data and "body" not in data for _, data, _ in events)


async def test_a_crash_between_publishing_and_removing_republishes_and_loses_nothing(
    database, broker, kafka_bootstrap, read_topic
):
    topic = unique_topic("test.crm.tickets")
    await ensure_topics(kafka_bootstrap, [topic])
    relay = TicketRelay(database, broker, topic=topic, batch_size=100, poll_interval=0.1)
    await open_one(database)
    await set_status(database, "t-1", TicketStatus.OPEN)

    published = await relay.pending()
    await relay.publish(published)
    # The relay dies here, before removing what it published; meanwhile the ticket changes.
    await set_status(database, "t-1", TicketStatus.PENDING)
    again = TicketRelay(database, broker, topic=topic, batch_size=100, poll_interval=0.1)
    assert await again.relay_once() == 1

    records = await read_topic(topic, lambda records: len(records) >= 5)
    events = events_of(records, "t-1")
    versions = [data["version"] for _, data, _ in events]
    assert versions == [1, 2, 1, 2, 3]
    # The same events, by id, not new ones: consumers absorb the repeat.
    assert [event_id for *_, event_id in events[:2]] == [event_id for *_, event_id in events[2:4]]
    assert await repository.with_pending_events(database=database, limit=10) == []
    assert await again.relay_once() == 0


async def test_a_change_made_while_publishing_stays_to_be_published(
    database, broker, kafka_bootstrap, read_topic
):
    topic = unique_topic("test.crm.tickets")
    await ensure_topics(kafka_bootstrap, [topic])
    relay = TicketRelay(database, broker, topic=topic, batch_size=100, poll_interval=0.1)
    await open_one(database)

    published = await relay.pending()
    await relay.publish(published)
    await set_status(database, "t-1", TicketStatus.OPEN)
    await relay.remove(published)

    left = await repository.with_pending_events(database=database, limit=10)
    assert [[event["version"] for event in stored] for _, stored in left] == [[2]]
    await relay.relay_once()
    records = await read_topic(topic, lambda records: len(records) >= 2)
    assert [data["version"] for _, data, _ in events_of(records, "t-1")] == [1, 2]


async def ticket_from_contact(client, auth, email):
    opened = await client.post(
        "/v1/tickets",
        json={
            "subject": "Where is my order?",
            "channel": "email",
            "requester": {"email": email, "name": "Ann"},
            "message": {"body": "I live at 1 Main Street"},
        },
        headers=auth("agent"),
    )
    assert opened.status_code == 201
    return opened.json()["ticket_id"]


async def test_tickets_follow_attribution_merge_undo_and_erasure(
    client, auth, publish, processed, customer_event, new_customer, eventually
):
    ann, bob = new_customer(), new_customer()
    await publish(customer_event(**ann))
    await publish(customer_event(**bob))
    ticket_id = await ticket_from_contact(client, auth, ann["email"])
    path = f"/v1/tickets/{ticket_id}"

    async def customer_is(expected):
        async def check():
            ticket = (await client.get(path, headers=auth("agent"))).json()
            return ticket["customer_id"] == expected

        await eventually(check)

    attributed = customer_event(
        CUSTOMER_TICKET_ATTRIBUTED, customer_id=ann["customer_id"], ticket_id=ticket_id
    )
    await publish(attributed)
    await customer_is(ann["customer_id"])

    merge = {
        "merge_id": "m-1",
        "survivor_id": bob["customer_id"],
        "merged_id": ann["customer_id"],
        "merged_at": ann["updated_at"],
    }
    await publish(customer_event(CUSTOMER_MERGED, **merge))
    await customer_is(bob["customer_id"])

    await publish(
        customer_event(
            CUSTOMER_UNMERGED,
            **{k: v for k, v in merge.items() if k != "merged_at"},
            unmerged_at=ann["updated_at"],
        )
    )
    await customer_is(ann["customer_id"])

    await publish(
        customer_event(CUSTOMER_ERASED, customer_id=ann["customer_id"], erased_at=ann["updated_at"])
    )

    async def erased():
        ticket = (await client.get(path, headers=auth("agent"))).json()
        return ticket["requester"] == {"email": None, "phone": None, "name": None}

    await eventually(erased)
    ticket = (await client.get(path, headers=auth("agent"))).json()
    assert ticket["subject"] == "(erased)"
    assert ticket["customer_id"] == ann["customer_id"]
    thread = (await client.get(f"{path}/messages", headers=auth("agent"))).json()["messages"]
    assert [(m["body"], m["author"]["email"]) for m in thread] == [("", None)]
    history = (await client.get(f"{path}/history", headers=auth("agent"))).json()["entries"]
    assert [entry["action"] for entry in history] == [
        "created",
        "attributed",
        "customer_merged",
        "customer_unmerged",
        "erased",
    ]


async def test_an_attribution_naming_a_merged_customer_links_the_survivor(
    client, auth, publish, processed, customer_event, new_customer, eventually
):
    ann, bob = new_customer(), new_customer()
    await publish(customer_event(**ann))
    await publish(customer_event(**bob))
    merged = customer_event(
        CUSTOMER_MERGED,
        merge_id="m-2",
        survivor_id=bob["customer_id"],
        merged_id=ann["customer_id"],
        merged_at=ann["updated_at"],
    )
    await publish(merged)
    await processed(merged)
    ticket_id = await ticket_from_contact(client, auth, ann["email"])

    await publish(
        customer_event(
            CUSTOMER_TICKET_ATTRIBUTED, customer_id=ann["customer_id"], ticket_id=ticket_id
        )
    )

    async def linked():
        ticket = (await client.get(f"/v1/tickets/{ticket_id}", headers=auth("agent"))).json()
        return ticket["customer_id"] == bob["customer_id"]

    await eventually(linked)
