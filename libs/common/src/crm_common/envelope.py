"""The CloudEvents 1.0 envelope in structured JSON mode, as every event travels on Kafka.

`CloudEvent[Data]` is generic over its `data`: `CloudEvent[OrderPlaced].model_validate_json(raw)`
parses an envelope and its typed body in one pass, while `parse_envelope` keeps `data` as a plain
dict for code that routes on `type` before choosing a model.

Building an event in Python fills `specversion`, `id` and `time`; parsing JSON requires them, so a
redelivered event can never come out with a new id.
"""

from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Annotated, Any, Final, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "CloudEvent",
    "InvalidEnvelope",
    "UtcDatetime",
    "encode_event",
    "format_rfc3339",
    "parse_envelope",
    "to_json_bytes",
]

DataT = TypeVar("DataT")

SPECVERSION: Final = "1.0"
JSON_CONTENT_TYPE: Final = "application/json"
# Required on the wire (CloudEvents' own four, plus `time` and `data`, which every contract of
# the suite carries) even though a producer in Python may leave the first ones to their defaults.
WIRE_REQUIRED = ("specversion", "id", "source", "type", "time", "data")
# Optional attributes left out rather than sent as null, as the CloudEvents JSON format advises.
_OMIT_WHEN_NONE = ("subject", "dataschema")


def format_rfc3339(value: datetime) -> str:
    """`value` in UTC as RFC 3339 with a `Z` suffix (fractional seconds only when present)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_rfc3339, return_type=str, when_used="json"),
]
"""A timezone-aware datetime (naive ones are rejected), held in UTC, written as RFC 3339 `...Z`."""


def _check_uuid(value: str) -> str:
    UUID(value)  # raises ValueError, which pydantic reports against the `id` attribute
    return value


EventId = Annotated[
    str,
    AfterValidator(_check_uuid),
    WithJsonSchema({"type": "string", "format": "uuid"}),
]


class InvalidEnvelope(ValueError):
    """Raw bytes that are not a CloudEvents 1.0 JSON envelope; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _new_id() -> str:
    return str(uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


def _wire_schema(schema: dict[str, Any]) -> None:
    schema["required"] = list(WIRE_REQUIRED)
    for name in ("specversion", "id", "time"):
        schema["properties"][name].pop("default", None)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event in structured JSON mode; extension attributes are kept."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_wire_schema)

    specversion: Literal["1.0"] = SPECVERSION
    id: EventId = Field(default_factory=_new_id)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: UtcDatetime = Field(default_factory=_now)
    datacontenttype: Literal["application/json"] = JSON_CONTENT_TYPE
    dataschema: str | None = Field(default=None, json_schema_extra={"format": "uri"})
    data: DataT

    @model_validator(mode="before")
    @classmethod
    def _wire_attributes_present(cls, value: Any, info: ValidationInfo) -> Any:
        # Defaults serve producers building events in Python; JSON comes off the wire, where a
        # missing id or time must be an error, not a freshly generated value.
        if info.mode == "json" and isinstance(value, dict):
            missing = [name for name in WIRE_REQUIRED if name not in value]
            if missing:
                raise PydanticCustomError(
                    "missing_attributes",
                    "missing attribute(s): {names}",
                    {"names": ", ".join(missing)},
                )
        return value

    @model_serializer(mode="wrap")
    def _drop_absent_attributes(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict):
            for name in _OMIT_WHEN_NONE:
                if dumped.get(name, ...) is None:
                    del dumped[name]
        return dumped


def to_json_bytes(event: CloudEvent[Any]) -> bytes:
    """The event as UTF-8 JSON bytes, ready to be a Kafka record value."""
    return event.model_dump_json().encode()


def encode_event(
    *,
    id: str,
    source: str,
    type: str,
    time: datetime,
    data_json: bytes,
    subject: str | None = None,
    dataschema: str | None = None,
) -> bytes:
    """The bytes `to_json_bytes` gives for a `CloudEvent` with these attributes and no
    extensions, written directly: for producers that derive ids and times themselves and
    publish thousands of events a second, building and validating the model costs more than
    the event is worth. `data_json` is the data already serialised."""
    parts = [b'{"specversion":"1.0","id":', _json_string(id), b',"source":', _json_string(source)]
    parts += [b',"type":', _json_string(type)]
    if subject is not None:
        parts += [b',"subject":', _json_string(subject)]
    parts += [b',"time":', _json_string(format_rfc3339(time))]
    parts.append(b',"datacontenttype":"application/json"')
    if dataschema is not None:
        parts += [b',"dataschema":', _json_string(dataschema)]
    parts += [b',"data":', data_json, b"}"]
    return b"".join(parts)


def _json_string(value: str) -> bytes:
    # As pydantic writes strings: UTF-8, not \u escapes, for anything printable. The encoder
    # function itself: json.dumps(ensure_ascii=False) builds a new encoder on every call.
    return encode_basestring(value).encode()


def _describe(error: ValidationError) -> str:
    missing: list[str] = []
    problems: list[str] = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        if item["type"] == "json_invalid":
            problems.append(f"not valid JSON: {item['msg']}")
        elif item["type"] == "missing_attributes":
            problems.append(item["msg"])
        elif item["type"] == "missing":
            missing.append(where)
        elif item["type"] == "model_type" and not item["loc"]:
            problems.append("not a JSON object")
        else:
            problems.append(f"{where or 'event'}: {item['msg']}")
    if missing:
        problems.insert(0, f"missing attribute(s): {', '.join(missing)}")
    return "; ".join(problems)


def parse_envelope(raw: bytes | str) -> CloudEvent[dict[str, Any]]:
    """Parse a structured-mode event whose `data` is a JSON object; raise `InvalidEnvelope`."""
    try:
        return CloudEvent[dict[str, Any]].model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEnvelope(_describe(error)) from error
