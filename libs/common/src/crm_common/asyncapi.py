"""A service's AsyncAPI 3.0 document, built from what it declares it consumes and publishes.

FastStream's own document is of little use here: the handlers take raw records and the services
publish through their outbox rather than FastStream publishers. So each service declares its
Kafka traffic once (`ServiceEvents`, in its `worker.py`): `register` subscribes from that
declaration, and `asyncapi_document` turns it into a document with a channel per topic (and per
dead-letter topic a consumer parks events on, or the outbox relay announces events it can never
publish on), a message per event contract, and a send or receive operation per publication and
consumer group.

A message's payload is the whole CloudEvent, referenced by the `$id` of its committed JSON
Schema (`schemas/events/`, draft 2020-12), which the document does not copy. `problems` checks
a document's structure and that every reference resolves, the `$id`s to committed schema files.

`python -m crm_common.asyncapi services/<name> ...` writes `services/<name>/asyncapi.json` from
`<name>.worker.asyncapi()` (`make asyncapi`).
"""

import argparse
import importlib
import inspect
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from crm_common.contracts import ContractRegistry, EventContract, render_json
from crm_common.kafka import dlq_topic

__all__ = [
    "ASYNCAPI_VERSION",
    "Consumes",
    "Publishes",
    "ServiceEvents",
    "asyncapi_document",
    "drift",
    "main",
    "problems",
    "render_json",
]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
EVENT_CONTENT_TYPE = "application/cloudevents+json"
JSON_SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
DEAD_LETTER = "DeadLetter"
PARKED = "ParkedEvent"

_EVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Kafka record headers; others may come along.",
    "properties": {
        "content-type": {"type": "string", "examples": [EVENT_CONTENT_TYPE]},
        "traceparent": {"type": "string", "description": "W3C trace context of the producer"},
        "tracestate": {"type": "string"},
    },
}
_PARKED_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The event's own headers, and these (`crm_common.outbox`).",
    "required": [
        "x-dlq-reason",
        "x-dlq-source-topic",
        "x-dlq-event-id",
        "x-dlq-outbox-seq",
        "x-dlq-failed-at",
        "x-dlq-payload-omitted",
    ],
    "properties": {
        "x-dlq-reason": {"type": "string", "description": "why the producer refused it"},
        "x-dlq-source-topic": {"type": "string", "description": "where it was to go"},
        "x-dlq-event-id": {"type": "string", "description": "the CloudEvent's id"},
        "x-dlq-outbox-seq": {"type": "string", "description": "its row in the outbox"},
        "x-dlq-failed-at": {"type": "string", "description": "RFC 3339"},
        "x-dlq-payload-omitted": {"type": "string", "description": "its size, and where it is"},
    },
}
_DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The failed record's own text headers, and these (`crm_common.kafka`).",
    "required": [
        "x-dlq-reason",
        "x-dlq-error",
        "x-dlq-source-topic",
        "x-dlq-source-partition",
        "x-dlq-source-offset",
        "x-dlq-consumer-group",
        "x-dlq-failed-at",
    ],
    "properties": {
        "x-dlq-reason": {"type": "string", "description": "why it failed (up to 2,000 chars)"},
        "x-dlq-error": {"type": "string", "description": "the exception's class name"},
        "x-dlq-source-topic": {"type": "string"},
        "x-dlq-source-partition": {"type": "string"},
        "x-dlq-source-offset": {"type": "string"},
        "x-dlq-consumer-group": {"type": "string"},
        "x-dlq-failed-at": {"type": "string", "description": "RFC 3339"},
    },
}


@dataclass(frozen=True, slots=True)
class Consumes:
    """A consumer: the topic it reads in its consumer group, and the events it applies."""

    topic: str
    group_id: str
    contracts: tuple[EventContract[Any], ...] | None = None
    """None: every contract registered on the topic (none, on a topic that no contract names,
    such as a test's own); else these, the other types being passed over."""
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Publishes:
    """A topic the service publishes to, and the events it publishes there."""

    topic: str
    contracts: tuple[EventContract[Any], ...]
    summary: str = ""
    parked: bool = True
    """Whether an event the broker refuses for good is parked and announced on the topic's
    dead-letter topic, as `crm_common.outbox`'s relay does."""


@dataclass(frozen=True, slots=True)
class ServiceEvents:
    """Every topic a service consumes, in which group, and every event it publishes."""

    service: str
    consumes: tuple[Consumes, ...] = ()
    publishes: tuple[Publishes, ...] = ()

    def topics(self) -> tuple[str, ...]:
        """The topics consumed or published to, each once (their dead-letter topics aside)."""
        names = [c.topic for c in self.consumes] + [p.topic for p in self.publishes]
        return tuple(dict.fromkeys(names))


def asyncapi_document(
    events: ServiceEvents, *, contracts: ContractRegistry, version: str | None = None
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `events`; `version` defaults to the version of the
    distribution named like the service (0.0.0 without one)."""
    channels: dict[str, dict[str, Any]] = {}
    carried: dict[str, dict[str, EventContract[Any]]] = {}
    operations: dict[str, dict[str, Any]] = {}

    def channel(topic: str, listed: Sequence[EventContract[Any]]) -> list[dict[str, str]]:
        channels.setdefault(topic, _channel(topic))
        on_topic = carried.setdefault(topic, {})
        on_topic.update((_message_id(contract), contract) for contract in listed)
        return [
            {"$ref": f"#/channels/{_escape(topic)}/messages/{_message_id(contract)}"}
            for contract in listed
        ]

    for consumer in events.consumes:
        listed = (
            consumer.contracts
            if consumer.contracts is not None
            else [c for c in contracts if c.topic == consumer.topic]
        )
        _add(
            operations,
            f"receive.{consumer.group_id}",
            {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{_escape(consumer.topic)}"},
                "summary": consumer.summary or f"{consumer.topic} in group {consumer.group_id}",
                "description": (
                    "Applies every event type of the topic."
                    if consumer.contracts is None
                    else "Applies these event types; passes over the others."
                ),
                "messages": channel(consumer.topic, listed),
                "bindings": {"kafka": _group_binding(consumer.group_id, events.service)},
            },
        )
        dead_letters = dlq_topic(consumer.topic)
        channels.setdefault(dead_letters, _dead_letter_channel(consumer.topic))
        _add(
            operations,
            f"deadLetter.{consumer.group_id}",
            {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_escape(dead_letters)}"},
                "summary": f"Parks what {consumer.group_id} cannot apply on {dead_letters}",
                "description": (
                    "A record that is no CloudEvent, breaks its contract or keeps failing "
                    "after its retries, with the reason in its headers."
                ),
                "messages": [
                    {"$ref": f"#/channels/{_escape(dead_letters)}/messages/{DEAD_LETTER}"}
                ],
            },
        )
    for publication in events.publishes:
        _add(
            operations,
            f"send.{publication.topic}",
            {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_escape(publication.topic)}"},
                "summary": publication.summary or f"{events.service} publishes to this topic",
                "messages": channel(publication.topic, publication.contracts),
            },
        )
        if not publication.parked:
            continue
        parked = dlq_topic(publication.topic)
        channels.setdefault(parked, _dead_letter_channel(publication.topic))
        channels[parked]["messages"][PARKED] = {"$ref": f"#/components/messages/{PARKED}"}
        _add(
            operations,
            f"park.{events.service}.{publication.topic}",
            {
                "action": "send",
                "channel": {"$ref": f"#/channels/{_escape(parked)}"},
                "summary": f"Announces the events {events.service} can never publish",
                "description": (
                    f"An event the broker refuses for good (larger than it takes) stays in "
                    f"{events.service}'s store, parked with its reason; its dead letter here "
                    "carries the headers and reason without the payload."
                ),
                "messages": [{"$ref": f"#/channels/{_escape(parked)}/messages/{PARKED}"}],
            },
        )
    messages: dict[str, dict[str, Any]] = {}
    for topic, on_topic in carried.items():
        channels[topic]["description"] = _key_note(on_topic.values())
        for name, contract in on_topic.items():
            messages[name] = _message(contract)
            channels[topic]["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": events.service,
            "version": version or _version_of(events.service),
            "description": (
                f"Every Kafka topic {events.service} consumes or publishes to. Each event is a "
                "CloudEvents 1.0 envelope in structured JSON mode; its JSON Schema is the one "
                "its `$id` names, committed under `schemas/events/`."
            ),
        },
        "defaultContentType": EVENT_CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "A placeholder: the brokers are the service's "
                "KAFKA_BOOTSTRAP_SERVERS setting.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **messages,
                DEAD_LETTER: _dead_letter_message(),
                PARKED: _parked_message(),
            },
            "schemas": {
                "EventHeaders": _EVENT_HEADERS,
                "DeadLetterHeaders": _DEAD_LETTER_HEADERS,
                "ParkedEventHeaders": _PARKED_HEADERS,
            },
        },
    }


def _version_of(service: str) -> str:
    try:
        return metadata.version(service)
    except metadata.PackageNotFoundError:  # an instance renamed in its settings
        return "0.0.0"


def _add(operations: dict[str, dict[str, Any]], name: str, operation: dict[str, Any]) -> None:
    if name in operations:
        raise ValueError(f"operation {name} is declared twice")
    operations[name] = operation


def _message_id(contract: EventContract[Any]) -> str:
    return f"{contract.type}.v{contract.version}"


def _escape(name: str) -> str:
    """`name` as one JSON Pointer token."""
    return name.replace("~", "~0").replace("/", "~1")


def _channel(topic: str) -> dict[str, Any]:
    return {
        "address": topic,
        "messages": {},
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _dead_letter_channel(topic: str) -> dict[str, Any]:
    entry = _channel(dlq_topic(topic))
    entry["description"] = (
        f"Events of {topic} a consumer could not apply, keyed as they were; "
        f"`make redrive DLQ={dlq_topic(topic)}` sends them back."
    )
    entry["messages"][DEAD_LETTER] = {"$ref": f"#/components/messages/{DEAD_LETTER}"}
    return entry


def _key_of(contract: EventContract[Any]) -> str:
    if contract.key is None:
        return "chosen by the producer, not a field of the data"
    return f"data.{contract.key}"


def _message(contract: EventContract[Any]) -> dict[str, Any]:
    summary = " ".join(inspect.cleandoc(contract.model.__doc__ or "").split("\n\n")[0].split())
    return {
        "name": contract.type,
        "title": f"{contract.type} v{contract.version}",
        "summary": summary,
        "description": f"The whole CloudEvent, as `schemas/events/{contract.path}` describes it.",
        "contentType": EVENT_CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/EventHeaders"},
        "payload": {"schemaFormat": JSON_SCHEMA_FORMAT, "schema": {"$ref": contract.schema_id}},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"Kafka record key: {_key_of(contract)}"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _key_note(listed: Iterable[EventContract[Any]]) -> str:
    """`Kafka record key: data.x.`, naming the events keyed otherwise."""
    keys = {contract.type: _key_of(contract) for contract in listed}
    if not keys:
        return "No event contract is registered on this topic."
    usual, _ = Counter(keys.values()).most_common(1)[0]
    others = [f"{name}: {key}" for name, key in keys.items() if key != usual]
    return f"Kafka record key: {usual}." + (f" Except {'; '.join(others)}." if others else "")


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead-letter",
        "title": "A record parked on a dead-letter topic",
        "summary": "The failed record's value, byte for byte, with why it failed in its headers.",
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {
            "description": "Usually a CloudEvent; possibly bytes that are no event at all.",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the failed record's key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _parked_message() -> dict[str, Any]:
    return {
        "name": "parked-event",
        "title": "An event its service can never publish",
        "summary": "No payload: the event stays in the service's outbox_parked table.",
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/ParkedEventHeaders"},
        "payload": {"type": "string", "maxLength": 0, "description": "empty"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the event's key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _group_binding(group_id: str, client_id: str) -> dict[str, Any]:
    return {
        "groupId": {"type": "string", "enum": [group_id]},
        "clientId": {"type": "string", "enum": [client_id]},
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


# --- checks ---------------------------------------------------------------------------------

_REQUIRED = ("asyncapi", "info", "channels", "operations", "components")


def problems(document: Mapping[str, Any], *, contracts: ContractRegistry) -> list[str]:
    """What is wrong with `document`, one line each: missing top-level fields, a `$ref` that
    resolves to nothing (a `$id` to no committed schema), an operation whose messages are not
    its channel's, or an event on a channel other than its contract's topic."""
    found = [f"$.{name}: missing" for name in _REQUIRED if name not in document]
    if found:
        return found
    if document["asyncapi"] != ASYNCAPI_VERSION:
        found.append(f"$.asyncapi: {document['asyncapi']!r}, expected {ASYNCAPI_VERSION!r}")
    found.extend(
        f"$.info.{name}: missing" for name in ("title", "version") if name not in document["info"]
    )
    schemas = {c.schema_id: contracts.schemas_dir / c.path for c in contracts}
    for where, ref in _refs(document, "$"):
        if ref.startswith("#/"):
            if _pointer(document, ref) is None:
                found.append(f"{where}: {ref} resolves to nothing")
        elif ref not in schemas or not schemas[ref].is_file():
            found.append(f"{where}: {ref} is no committed event schema")
        elif json.loads(schemas[ref].read_text(encoding="utf-8")).get("$id") != ref:
            found.append(f"{where}: {schemas[ref]} has another $id")
    for name, operation in document["operations"].items():
        where = f"$.operations.{name}"
        if operation.get("action") not in ("send", "receive"):
            found.append(f"{where}.action: must be send or receive")
        channel = operation.get("channel", {}).get("$ref", "")
        if not channel.startswith("#/channels/"):
            found.append(f"{where}.channel: no reference to a channel")
        for message in operation.get("messages", []):
            if not message.get("$ref", "").startswith(f"{channel}/messages/"):
                found.append(f"{where}.messages: {message} is not a message of its channel")
    for name, channel in document["channels"].items():
        for message in channel.get("messages", {}).values():
            resolved = _pointer(document, message.get("$ref", "")) or {}
            schema_id = resolved.get("payload", {}).get("schema", {}).get("$ref")
            if schema_id in schemas and schemas[schema_id].is_file():
                topic = json.loads(schemas[schema_id].read_text(encoding="utf-8")).get("x-topic")
                if topic != channel.get("address"):
                    found.append(f"$.channels.{name}: {resolved['name']} travels on {topic}")
    return found


def drift(document: Mapping[str, Any], path: Path) -> list[str]:
    """`path` missing or other than `document` as `make asyncapi` writes it, with the fix."""
    if not path.is_file():
        return [f"{path}: missing; run `make asyncapi` and commit it"]
    if path.read_text(encoding="utf-8") != render_json(document):
        return [f"{path}: differs from what worker.py declares; run `make asyncapi` and commit it"]
    return []


def _refs(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield where, value
            else:
                yield from _refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _refs(value, f"{where}[{position}]")


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    target: Any = document
    for token in ref.removeprefix("#/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, Mapping) or token not in target:
            return None
        target = target[token]
    return target


# --- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write each service's asyncapi.json from its worker.asyncapi()."
    )
    parser.add_argument("services", nargs="+", type=Path, help="service folders: services/<name>")
    args = parser.parse_args(argv)
    for folder in args.services:
        worker = importlib.import_module(f"{folder.resolve().name}.worker")
        target = folder / "asyncapi.json"
        text = render_json(worker.asyncapi())
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
