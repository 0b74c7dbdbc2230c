import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from crm_common.access import OPERATIONS, AccessMatrix
from crm_common.asyncapi import (
    Consumes,
    Publishes,
    ServiceEvents,
    asyncapi_document,
    drift,
    main,
    problems,
    render_json,
)
from crm_common.contracts import ContractRegistry, EventContract
from crm_common.http import create_http_app
from crm_common.kafka import create_broker, dlq_topic, subscribe_batch
from crm_common.settings import BaseServiceSettings
from fastapi import FastAPI
from faststream.kafka import KafkaMessage, TestKafkaBroker
from prometheus_client import CollectorRegistry
from pydantic import BaseModel


class WidgetBuilt(BaseModel):
    """A widget was built.

    Its parts follow."""

    widget_id: str


class WidgetScrapped(BaseModel):
    """A widget was scrapped."""

    widget_id: str
    batch_id: str


class GadgetSeen(BaseModel):
    """A gadget was seen."""

    gadget_id: str


def _contract(event_type: str, model: type[BaseModel], topic: str, key: str | None) -> Any:
    example = dict.fromkeys(model.model_fields, "x-1")
    return EventContract(
        type=event_type,
        version=1,
        domain="test",
        model=model,
        topic=topic,
        example=example,
        key=key,
    )


BUILT = _contract("test.widget.built", WidgetBuilt, "test.widgets.v1", "widget_id")
SCRAPPED = _contract("test.widget.scrapped", WidgetScrapped, "test.widgets.v1", "batch_id")
SEEN = _contract("test.gadget.seen", GadgetSeen, "test.gadgets.v1", None)

DECLARED = ServiceEvents(
    service="widget-works",
    consumes=(
        Consumes("test.widgets.v1", "works.widgets", summary="Widgets, into the works"),
        Consumes("test.gadgets.v1", "works.gadgets", contracts=(SEEN,)),
    ),
    publishes=(Publishes("test.widgets.v1", (BUILT,)),),
)


@pytest.fixture
def contracts(tmp_path: Path) -> ContractRegistry:
    registry = ContractRegistry(tmp_path)
    for contract in (BUILT, SCRAPPED, SEEN):
        registry.register(contract)
    registry.export()
    return registry


@pytest.fixture
def document(contracts: ContractRegistry) -> dict[str, Any]:
    return asyncapi_document(DECLARED, contracts=contracts, version="1.2.3")


def test_topics_are_listed_once_in_order() -> None:
    assert DECLARED.topics() == ("test.widgets.v1", "test.gadgets.v1")


def test_a_channel_per_topic_and_dead_letter_topic(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "widget-works"
    assert document["info"]["version"] == "1.2.3"
    assert set(document["channels"]) == {
        "test.widgets.v1",
        "test.widgets.v1.dlq",
        "test.gadgets.v1",
        "test.gadgets.v1.dlq",
    }
    widgets = document["channels"]["test.widgets.v1"]
    assert widgets["address"] == "test.widgets.v1"
    assert set(widgets["messages"]) == {"test.widget.built.v1", "test.widget.scrapped.v1"}
    # The usual key first, the events keyed otherwise named after it.
    assert widgets["description"] == (
        "Kafka record key: data.widget_id. Except test.widget.scrapped: data.batch_id."
    )
    gadgets = document["channels"]["test.gadgets.v1"]["description"]
    assert gadgets == "Kafka record key: chosen by the producer, not a field of the data."


def test_a_message_per_contract_refers_to_its_schema(document: dict[str, Any]) -> None:
    message = document["components"]["messages"]["test.widget.built.v1"]
    assert message["name"] == "test.widget.built"
    assert message["summary"] == "A widget was built."
    assert message["contentType"] == "application/cloudevents+json"
    assert message["payload"]["schema"] == {"$ref": BUILT.schema_id}
    assert message["bindings"]["kafka"]["key"]["description"].endswith("data.widget_id")


def test_operations_per_consumer_group_and_publication(document: dict[str, Any]) -> None:
    operations = document["operations"]
    assert set(operations) == {
        "receive.works.widgets",
        "deadLetter.works.widgets",
        "receive.works.gadgets",
        "deadLetter.works.gadgets",
        "send.test.widgets.v1",
        "park.widget-works.test.widgets.v1",
    }
    every = operations["receive.works.widgets"]
    assert every["action"] == "receive"
    assert every["channel"] == {"$ref": "#/channels/test.widgets.v1"}
    assert [m["$ref"].rsplit("/", 1)[1] for m in every["messages"]] == [
        "test.widget.built.v1",
        "test.widget.scrapped.v1",
    ]
    assert every["bindings"]["kafka"]["groupId"] == {"type": "string", "enum": ["works.widgets"]}
    chosen = operations["receive.works.gadgets"]
    assert chosen["messages"] == [
        {"$ref": "#/channels/test.gadgets.v1/messages/test.gadget.seen.v1"}
    ]
    parked = operations["deadLetter.works.gadgets"]
    assert parked["action"] == "send"
    assert parked["channel"] == {"$ref": "#/channels/test.gadgets.v1.dlq"}
    sent = operations["send.test.widgets.v1"]
    assert sent["action"] == "send"
    assert sent["messages"] == [
        {"$ref": "#/channels/test.widgets.v1/messages/test.widget.built.v1"}
    ]
    # What the outbox relay can never publish is announced on the topic's dead-letter topic.
    unpublishable = operations["park.widget-works.test.widgets.v1"]
    assert unpublishable["action"] == "send"
    assert unpublishable["messages"] == [
        {"$ref": "#/channels/test.widgets.v1.dlq/messages/ParkedEvent"}
    ]
    assert set(document["channels"]["test.widgets.v1.dlq"]["messages"]) == {
        "DeadLetter",
        "ParkedEvent",
    }


def test_a_generated_document_has_no_problems(
    document: dict[str, Any], contracts: ContractRegistry
) -> None:
    assert problems(document, contracts=contracts) == []


def test_problems_name_what_does_not_resolve(
    document: dict[str, Any], contracts: ContractRegistry
) -> None:
    document["channels"]["test.widgets.v1"]["messages"]["gone"] = {
        "$ref": "#/components/messages/gone"
    }
    document["components"]["messages"]["test.gadget.seen.v1"]["payload"]["schema"]["$ref"] = (
        "https://schemas.example/nothing.json"
    )
    document["operations"]["send.test.widgets.v1"]["messages"] = [
        {"$ref": "#/channels/test.gadgets.v1/messages/test.gadget.seen.v1"}
    ]
    del document["info"]["version"]

    found = problems(document, contracts=contracts)

    assert "$.info.version: missing" in found
    assert any("#/components/messages/gone resolves to nothing" in line for line in found)
    assert any("https://schemas.example/nothing.json is no committed" in line for line in found)
    assert any("send.test.widgets.v1.messages" in line for line in found)


def test_a_publisher_that_parks_nothing_documents_no_dead_letters(
    contracts: ContractRegistry,
) -> None:
    own_relay = ServiceEvents(
        service="w", publishes=(Publishes("test.widgets.v1", (BUILT,), parked=False),)
    )
    document = asyncapi_document(own_relay, contracts=contracts, version="1")

    assert set(document["operations"]) == {"send.test.widgets.v1"}
    assert set(document["channels"]) == {"test.widgets.v1"}
    assert problems(document, contracts=contracts) == []


def test_problems_name_an_event_on_another_topic(contracts: ContractRegistry) -> None:
    wrong = ServiceEvents(service="w", publishes=(Publishes("test.gadgets.v1", (BUILT,)),))
    document = asyncapi_document(wrong, contracts=contracts, version="1")

    assert problems(document, contracts=contracts) == [
        "$.channels.test.gadgets.v1: test.widget.built travels on test.widgets.v1"
    ]


def test_problems_name_missing_top_level_fields(contracts: ContractRegistry) -> None:
    assert problems({"asyncapi": "3.0.0"}, contracts=contracts) == [
        "$.info: missing",
        "$.channels: missing",
        "$.operations: missing",
        "$.components: missing",
    ]


def test_a_consumer_group_declared_twice_is_refused(contracts: ContractRegistry) -> None:
    twice = ServiceEvents(
        service="w",
        consumes=(Consumes("test.widgets.v1", "g"), Consumes("test.widgets.v1", "g")),
    )
    with pytest.raises(ValueError, match=r"receive\.g is declared twice"):
        asyncapi_document(twice, contracts=contracts, version="1")


def test_drift_compares_with_the_committed_file(document: dict[str, Any], tmp_path: Path) -> None:
    committed = tmp_path / "asyncapi.json"
    assert "missing" in drift(document, committed)[0]
    committed.write_text(render_json(document), encoding="utf-8")
    assert drift(document, committed) == []
    committed.write_text(json.dumps(document), encoding="utf-8")
    assert "run `make asyncapi`" in drift(document, committed)[0]


def test_command_writes_each_services_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "src" / "widget_works"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "worker.py").write_text("def asyncapi():\n    return {'asyncapi': '3.0.0'}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    service = tmp_path / "services" / "widget_works"
    service.mkdir(parents=True)

    assert main([str(service)]) == 0

    assert (service / "asyncapi.json").read_text() == '{\n  "asyncapi": "3.0.0"\n}\n'
    sys.modules.pop("widget_works.worker", None)
    sys.modules.pop("widget_works", None)


async def test_dead_letter_headers_are_those_a_consumer_sets(document: dict[str, Any]) -> None:
    broker = create_broker("127.0.0.1:1", client_id="test", registry=CollectorRegistry())
    parked: list[dict[str, str]] = []

    @broker.subscriber(dlq_topic("test.widgets.v1"))
    async def collect(message: KafkaMessage) -> None:
        parked.append(dict(message.headers))

    async def handler(_: Any) -> None:
        return None

    subscribe_batch(broker, "test.widgets.v1", group_id="works.widgets", handler=handler)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"{not json", "test.widgets.v1")

    documented = document["components"]["schemas"]["DeadLetterHeaders"]
    ours = {name for name in parked[0] if name.startswith("x-dlq-")}
    assert ours == set(documented["properties"]) == set(documented["required"])


# --- served -----------------------------------------------------------------------------------


@asynccontextmanager
async def _no_resources(_: FastAPI) -> AsyncIterator[None]:
    yield


def _app(jwt_keys: tuple[str, str], asyncapi: dict[str, Any] | None) -> FastAPI:
    settings = BaseServiceSettings(service_name="test", jwt_public_key=jwt_keys[1])
    return create_http_app(
        settings,
        title="test",
        lifespan=_no_resources,
        routers=[],
        readiness=lambda _: {},
        asyncapi=asyncapi,
        access=AccessMatrix.of(
            "test",
            {k: v for k, v in OPERATIONS.items() if asyncapi or k != "GET /asyncapi.json"},
            personal_data=(),
        ),
    )


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_document_is_served_without_a_token(
    document: dict[str, Any], jwt_keys: tuple[str, str]
) -> None:
    response = await _get(_app(jwt_keys, document), "/asyncapi.json")

    assert response.status_code == 200
    assert response.json() == document


async def test_no_document_no_route(jwt_keys: tuple[str, str]) -> None:
    response = await _get(_app(jwt_keys, None), "/asyncapi.json")

    assert response.status_code == 404
