"""Orders accepted over HTTP: checked at the door, then handed to shop.orders.v1.

The API answers once the broker holds the order (acks=all), and the shop-orders consumer
(`orders/consumers.py`) applies it in its batches like every shop's order: one path stores
every order and announces its changes. The door refuses what that path would refuse (an
unregistered store, what the database cannot hold, events too large to publish), so an order
accepted here is never dead-lettered for its own sake.
"""

from datetime import UTC, datetime
from uuid import uuid4

from crm_common.envelope import encode_event
from crm_common.producer import RecordProducer
from crm_events.shop import ORDER_UPSERTED, CanonicalOrder
from opentelemetry.propagate import inject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.orders.events import order_id_for, publishable_events, snapshot
from order_sync.orders.exceptions import InvalidOrder, UnknownStore
from order_sync.orders.lifecycle import LifecycleState, lifecycle_events
from order_sync.orders.schemas import Channel
from order_sync.orders.validation import Rejected, storage_problems
from order_sync.stores.service import find_store

API_SOURCE = "order-sync/v1/orders"
"""The `source` of the events the API publishes: the consumer records them as `rest`."""


def channel_of(source: str) -> Channel:
    """How an order on shop.orders.v1 reached order-sync, told by its event's `source`."""
    return Channel.REST if source == API_SOURCE else Channel.KAFKA


class OrderIntake:
    """Accepts orders for the shop-orders consumer to apply; one per process."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        producer: RecordProducer,
        topic: str,
    ) -> None:
        self._sessions = sessions
        self._producer = producer
        self._topic = topic
        # Stores are never removed nor moved to another country: once seen, a store is known
        # for good, and the door reads the database only for stores it has not seen yet.
        self._countries: dict[str, str | None] = {}

    async def accept(self, order: CanonicalOrder) -> str:
        """Check `order` and publish it on shop.orders.v1 once the broker has it; returns its
        order id. Raises `UnknownStore` or `InvalidOrder` as storing it would."""
        country = await self._country(order.store_id)
        problems = storage_problems(order)
        if problems:
            raise InvalidOrder(problems)
        order_id = order_id_for(order.store_id, order.external_id)
        # Every change of an order announces its whole snapshot, so the events of the order as
        # new are as large as any of its revisions'.
        events = lifecycle_events(None, LifecycleState.of(order))
        data = snapshot(order, order_id=order_id, version=1, store_country=country)
        encoded = publishable_events(data, events)
        if isinstance(encoded, Rejected):
            raise InvalidOrder(encoded.problems)
        event_id = str(uuid4())
        value = encode_event(
            id=event_id,
            source=API_SOURCE,
            type=ORDER_UPSERTED.type,
            time=datetime.now(UTC),
            data_json=order.model_dump_json().encode(),
            subject=order.external_id,
            dataschema=ORDER_UPSERTED.schema_id,
        )
        headers = {"content-type": "application/cloudevents+json", "correlation_id": event_id}
        inject(headers)
        # Keyed as the shops key their own events, so one order's revisions keep their order.
        ack = await self._producer.send(
            topic=self._topic, key=order.external_id.encode(), value=value, headers=headers
        )
        await ack
        return order_id

    async def _country(self, store_id: str) -> str | None:
        if store_id in self._countries:
            return self._countries[store_id]
        async with self._sessions() as session:
            store = await find_store(session=session, store_id=store_id)
        if store is None:
            raise UnknownStore(store_id)
        self._countries[store_id] = store.country
        return store.country
