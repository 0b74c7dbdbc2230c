"""The AsyncAPI document: valid, committed as generated, served, and true to the subscriptions."""

from pathlib import Path

import httpx
from crm_common.asyncapi import drift, problems
from crm_events.registry import CONTRACTS
from order_sync import worker
from order_sync.config import Settings
from order_sync.main import create_app

COMMITTED = Path(__file__).resolve().parents[1] / "asyncapi.json"


def test_document_is_valid():
    assert problems(worker.asyncapi(), contracts=CONTRACTS) == []


def test_committed_document_is_current():
    assert drift(worker.asyncapi(), COMMITTED) == []


async def test_app_serves_it_and_subscribes_as_declared():
    settings = Settings(jwt_public_key="unused")
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/asyncapi.json")

    assert response.status_code == 200
    assert response.json() == worker.asyncapi(settings)
    subscribed = {
        (topic, subscriber.group_id)
        for subscriber in app.state.runtime.broker.subscribers
        for topic in subscriber.topic_names
    }
    declared = worker.events(settings).consumes
    assert subscribed == {(consumer.topic, consumer.group_id) for consumer in declared}
