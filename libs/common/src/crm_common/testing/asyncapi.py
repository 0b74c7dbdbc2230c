"""Checking that a service serves its AsyncAPI document and subscribes as it declares."""

from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import FastAPI

from crm_common.asyncapi import ServiceEvents


async def assert_served_as_declared(
    app: FastAPI, document: Mapping[str, Any], events: ServiceEvents
) -> None:
    """`app` answers `document` at /asyncapi.json without a token, and its broker subscribes
    to exactly the (topic, group) pairs `events` declares."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == document
    subscribed = {
        (topic, subscriber.group_id)
        for subscriber in app.state.runtime.broker.subscribers
        for topic in subscriber.topic_names
    }
    assert subscribed == {(consumer.topic, consumer.group_id) for consumer in events.consumes}
