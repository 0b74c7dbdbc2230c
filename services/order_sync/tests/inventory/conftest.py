"""Settings with topics of this test's own for activity, carts and inventory too (the shared
fixture makes unique order topics only), and a short abandonment timeout."""

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from crm_common.testing.plugin import unique_topic
from order_sync.config import Settings


@pytest.fixture
async def settings(settings: Settings, kafka_bootstrap: str) -> AsyncIterator[Settings]:
    ours = settings.model_copy(
        update={
            "activity_topic": unique_topic("test.shop.activity.v1"),
            "carts_topic": unique_topic("test.crm.carts.v1"),
            "inventory_topic": unique_topic("test.crm.inventory.v1"),
            "checkout_abandon_after_seconds": 1.0,
            "checkout_sweep_interval_seconds": 0.2,
        }
    )
    yield ours
    topics = {ours.activity_topic, ours.carts_topic, ours.inventory_topic}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in existing if t in topics or t.removesuffix(".dlq") in topics]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
