import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from crm_common.envelope import (
    CloudEvent,
    InvalidEnvelope,
    encode_event,
    format_rfc3339,
    parse_envelope,
    to_json_bytes,
)
from pydantic import BaseModel, ValidationError


class Thing(BaseModel):
    thing_id: str
    count: int


def make_event(**attributes: Any) -> CloudEvent[Thing]:
    return CloudEvent[Thing](
        source="order-sync",
        type="crm.thing.happened",
        subject="t-1",
        data=Thing(thing_id="t-1", count=2),
        **attributes,
    )


def wire(**overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": "7d8a3c1e-51f2-4b8e-9c0a-2f4e6d8b1a3c",
        "source": "order-sync",
        "type": "crm.thing.happened",
        "time": "2026-11-01T10:00:00Z",
        "data": {"thing_id": "t-1", "count": 2},
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_defaults_fill_specversion_id_time_and_content_type() -> None:
    first, second = make_event(), make_event()

    assert first.specversion == "1.0"
    assert first.datacontenttype == "application/json"
    assert UUID(first.id) != UUID(second.id)
    assert first.time.tzinfo is UTC


def test_round_trip_through_bytes_keeps_everything() -> None:
    event = make_event(traceparent="00-abc-def-01", partitionkey="t-1")

    raw = to_json_bytes(event)
    parsed = CloudEvent[Thing].model_validate_json(raw)

    assert isinstance(raw, bytes)
    assert parsed == event
    assert parsed.data == Thing(thing_id="t-1", count=2)
    assert parsed.model_extra == {"traceparent": "00-abc-def-01", "partitionkey": "t-1"}


@pytest.mark.parametrize(
    ("subject", "dataschema", "source"),
    [
        ("t-1", "https://example.com/s.json", "order-sync"),
        (None, None, 'shop/ünïcødé "quoted" \\ back/slash'),
        ("tab\there\nnewline\u0001\u007f\u2028", None, "€ 😀"),
    ],
)
def test_encoded_events_are_the_bytes_of_the_model(
    subject: str | None, dataschema: str | None, source: str
) -> None:
    berlin = timezone(timedelta(hours=2))
    event = CloudEvent[Thing](
        source=source,
        type="crm.thing.happened",
        subject=subject,
        dataschema=dataschema,
        time=datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=berlin),
        data=Thing(thing_id="t-1", count=2),
    )

    encoded = encode_event(
        id=event.id,
        source=source,
        type=event.type,
        subject=subject,
        dataschema=dataschema,
        time=event.time,
        data_json=event.data.model_dump_json().encode(),
    )

    assert encoded == to_json_bytes(event)


def test_time_is_written_in_utc_with_z() -> None:
    berlin = timezone(timedelta(hours=2))
    event = make_event(time=datetime(2026, 11, 1, 12, 0, tzinfo=berlin))

    body = json.loads(to_json_bytes(event))

    assert body["time"] == "2026-11-01T10:00:00Z"
    assert event.time == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert format_rfc3339(datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000600Z"
    )


def test_absent_optional_attributes_are_left_out() -> None:
    event = CloudEvent[Thing](
        source="s", type="crm.thing.happened", data=Thing(thing_id="t", count=1)
    )

    body = json.loads(to_json_bytes(event))

    assert "subject" not in body
    assert "dataschema" not in body


def test_naive_time_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        make_event(time=datetime(2026, 11, 1, 10, 0))


def test_parse_envelope_keeps_data_as_a_dict() -> None:
    event = parse_envelope(wire(subject="t-1", traceparent="00-abc"))

    assert event.type == "crm.thing.happened"
    assert event.subject == "t-1"
    assert event.data == {"thing_id": "t-1", "count": 2}
    assert event.model_extra == {"traceparent": "00-abc"}
    assert event.time == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_typed_parse_validates_the_data() -> None:
    with pytest.raises(ValidationError, match="count"):
        CloudEvent[Thing].model_validate_json(wire(data={"thing_id": "t-1", "count": "many"}))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"not json at all", "not valid JSON", id="not-json"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b"[1, 2]", "not a JSON object", id="array"),
        pytest.param(wire(id=...), "missing attribute(s): id", id="no-id"),
        pytest.param(wire(time=...), "missing attribute(s): time", id="no-time"),
        pytest.param(wire(source=..., data=...), "source, data", id="no-source-no-data"),
        pytest.param(wire(specversion=...), "specversion", id="no-specversion"),
        pytest.param(wire(specversion="0.3"), "specversion: Input should be '1.0'", id="0.3"),
        pytest.param(wire(id="42"), "id: Value error", id="id-not-uuid"),
        pytest.param(
            wire(time="2026-11-01T10:00:00"), "time: Input should have timezone", id="naive"
        ),
        pytest.param(wire(data=[1]), "data: Input should be an object", id="data-not-object"),
        pytest.param(wire(source=""), "source:", id="empty-source"),
    ],
)
def test_parse_envelope_rejects_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        parse_envelope(raw)

    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_json_schema_requires_the_wire_attributes() -> None:
    schema = CloudEvent[dict[str, Any]].model_json_schema()

    assert schema["required"] == ["specversion", "id", "source", "type", "time", "data"]
    assert schema["additionalProperties"] is True
    assert schema["properties"]["id"] == {"format": "uuid", "title": "Id", "type": "string"}
