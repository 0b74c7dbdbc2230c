"""The shop-order batch handler and its subscription, on FastStream's in-memory broker."""

from typing import Any

from crm_common.envelope import CloudEvent, to_json_bytes
from crm_common.kafka import PermanentEventError
from crm_common.runtime import PostgresRuntime
from crm_events.shop import CANONICAL_ORDER_EXAMPLE
from faststream.kafka import KafkaMessage, TestKafkaBroker
from order_sync import worker
from order_sync.config import Settings
from order_sync.main import MIGRATIONS
from order_sync.orders.consumers import shop_orders_handler
from pydantic import ValidationError


class NoDatabase:
    """Stands in for the session factory where the handler must not get that far."""

    def __call__(self) -> Any:
        raise AssertionError("the handler touched the database")


def shop_event(event_type: str = "shop.order.upserted", **data: Any) -> CloudEvent[dict[str, Any]]:
    return CloudEvent[dict[str, Any]](
        source="shop/test", type=event_type, data={**CANONICAL_ORDER_EXAMPLE, **data}
    )


async def test_other_types_and_invalid_orders_are_rejected_before_any_write() -> None:
    handle = shop_orders_handler(NoDatabase(), topic="out")  # type: ignore[arg-type, unused-ignore]

    rejected = await handle([shop_event("shop.order.deleted"), shop_event(total=12.5, lines=[])])

    assert set(rejected) == {0, 1}
    assert isinstance(rejected[0], PermanentEventError)
    assert "expected shop.order.upserted" in str(rejected[0])
    assert isinstance(rejected[1], ValidationError)
    assert {error["loc"][0] for error in rejected[1].errors()} == {"total", "lines"}


async def test_the_subscription_dead_letters_a_bad_event_with_its_reason(
    offline_settings: Settings,
) -> None:
    settings = offline_settings.model_copy(update={"consumer_retry_backoff_seconds": 0})
    runtime = PostgresRuntime(settings, topics=worker.topics(settings), migrations_dir=MIGRATIONS)
    worker.register(runtime, settings)
    dead: list[tuple[bytes, dict[str, str]]] = []

    @runtime.broker.subscriber(f"{settings.shop_orders_topic}.dlq")
    async def collect(message: KafkaMessage) -> None:
        dead.append((message.body, dict(message.headers)))

    bad = to_json_bytes(shop_event("shop.order.deleted"))
    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish(bad, settings.shop_orders_topic, key=b"1001")
        await broker.publish(b"not json", settings.shop_orders_topic, key=b"1002")

    assert [body for body, _ in dead] == [bad, b"not json"]
    assert "expected shop.order.upserted" in dead[0][1]["x-dlq-reason"]
    assert "invalid envelope" in dead[1][1]["x-dlq-reason"]
    assert {headers["x-dlq-consumer-group"] for _, headers in dead} == {worker.SHOP_ORDERS_GROUP}
    await runtime.engine.dispose()
