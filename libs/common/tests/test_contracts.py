import copy
import json
from pathlib import Path
from typing import Any

import pytest
from crm_common.contracts import (
    ContractRegistry,
    ContractViolation,
    EventContract,
    UnknownEventType,
    incompatibilities,
)
from crm_common.envelope import to_json_bytes
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field


class Part(BaseModel):
    """A part of a widget."""

    name: str
    weight: int = Field(ge=0)


class WidgetBuilt(BaseModel):
    """A widget was built."""

    model_config = ConfigDict(extra="allow")

    widget_id: str
    colour: str | None = None
    parts: list[Part] = Field(min_length=1)


class WidgetScrapped(BaseModel):
    """A widget was scrapped."""

    widget_id: str


WIDGET_BUILT = EventContract(
    type="test.widget.built",
    version=1,
    domain="widget",
    model=WidgetBuilt,
    topic="test.widgets.v1",
    example={"widget_id": "w-1", "parts": [{"name": "bolt", "weight": 3}]},
    key="widget_id",
    source="widget-factory",
)
WIDGET_SCRAPPED = EventContract(
    type="test.widget.scrapped",
    version=1,
    domain="widget",
    model=WidgetScrapped,
    topic="test.widgets.v1",
    example={"widget_id": "w-1"},
    key="widget_id",
)


@pytest.fixture
def registry(tmp_path: Path) -> ContractRegistry:
    registry = ContractRegistry(tmp_path)
    registry.register(WIDGET_BUILT)
    registry.register(WIDGET_SCRAPPED)
    return registry


# --- registry ------------------------------------------------------------------------------


def test_lookup_by_type(registry: ContractRegistry) -> None:
    assert registry.get("test.widget.built") is WIDGET_BUILT
    assert registry.get("test.widget.built", 1) is WIDGET_BUILT
    assert registry.model_for("test.widget.scrapped") is WidgetScrapped
    assert "test.widget.built" in registry
    assert len(registry) == 2
    assert registry.topics() == {"test.widgets.v1"}
    with pytest.raises(UnknownEventType):
        registry.get("test.widget.painted")
    with pytest.raises(UnknownEventType):
        registry.get("test.widget.built", 2)


def test_latest_version_wins_without_a_version(registry: ContractRegistry) -> None:
    v2 = EventContract(
        type="test.widget.built",
        version=2,
        domain="widget",
        model=WidgetBuilt,
        topic="test.widgets.v2",
        example=WIDGET_BUILT.example,
    )
    registry.register(v2)

    assert registry.get("test.widget.built") is v2
    assert registry.get("test.widget.built", 1) is WIDGET_BUILT


def test_register_refuses_duplicates_and_bad_examples(registry: ContractRegistry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(WIDGET_BUILT)
    bad = EventContract(
        type="test.widget.bent",
        version=1,
        domain="widget",
        model=WidgetBuilt,
        topic="t",
        example={"widget_id": "w-1", "parts": []},
    )
    with pytest.raises(ValueError, match="parts"):
        registry.register(bad)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": "Widget.Built"}, "lower-case dotted"),
        ({"domain": "Widgets/x"}, "folder name"),
        ({"version": 0}, "version"),
        ({"key": "nope"}, "no field"),
    ],
)
def test_contract_checks_its_names(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "type": "test.widget.built",
        "version": 1,
        "domain": "widget",
        "model": WidgetBuilt,
        "topic": "t",
        "example": {},
    }
    with pytest.raises(ValueError, match=message):
        EventContract(**{**fields, **changes})


def test_contract_models_need_a_docstring() -> None:
    class Undocumented(BaseModel):
        x: int

    with pytest.raises(ValueError, match="docstring"):
        EventContract(
            type="test.x.done", version=1, domain="x", model=Undocumented, topic="t", example={}
        )


def test_event_fills_subject_and_dataschema() -> None:
    event = WIDGET_BUILT.event(WidgetBuilt(widget_id="w-9", parts=[Part(name="a", weight=1)]))

    assert event.type == "test.widget.built"
    assert event.source == "widget-factory"
    assert event.subject == "w-9"
    assert event.dataschema == (
        "https://schemas.crm-suite.dev/events/widget/test.widget.built.v1.json"
    )


# --- JSON Schema -----------------------------------------------------------------------------


def test_json_schema_describes_the_whole_envelope(registry: ContractRegistry) -> None:
    schema = registry.json_schema(WIDGET_BUILT)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://schemas.crm-suite.dev/events/widget/test.widget.built.v1.json"
    assert schema["title"] == "test.widget.built v1"
    assert schema["description"] == "A widget was built."
    assert schema["properties"]["type"] == {"const": "test.widget.built", "type": "string"}
    assert schema["required"] == ["specversion", "id", "source", "type", "time", "data"]
    data = schema["properties"]["data"]
    assert "$defs" not in data
    assert data["title"] == "WidgetBuilt"
    assert data["additionalProperties"] is True
    assert data["properties"]["parts"]["items"] == {"$ref": "#/$defs/Part"}
    assert schema["$defs"]["Part"]["description"] == "A part of a widget."
    assert schema["x-topic"] == "test.widgets.v1"
    assert schema["x-key"] == "data.widget_id"


def test_example_envelope_is_fixed(registry: ContractRegistry) -> None:
    first = registry.example_envelope(WIDGET_BUILT)

    assert first == registry.example_envelope(WIDGET_BUILT)
    assert first["time"] == "2026-11-01T10:00:00Z"
    assert first["subject"] == "w-1"
    assert first["data"]["colour"] is None


# --- export and drift ----------------------------------------------------------------------


def test_export_writes_pretty_sorted_files(registry: ContractRegistry, tmp_path: Path) -> None:
    written = registry.export(tmp_path)

    schema_file = tmp_path / "widget" / "test.widget.built.v1.json"
    example_file = tmp_path / "widget" / "examples" / "test.widget.built.v1.json"
    assert set(written) == {
        schema_file,
        example_file,
        tmp_path / "widget" / "test.widget.scrapped.v1.json",
        tmp_path / "widget" / "examples" / "test.widget.scrapped.v1.json",
    }
    text = schema_file.read_text()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "$defs": {')
    assert json.loads(text) == registry.json_schema(WIDGET_BUILT)
    assert json.loads(example_file.read_text()) == registry.example_envelope(WIDGET_BUILT)
    assert registry.export(tmp_path) == []  # deterministic: nothing to rewrite


def test_drift_notices_edited_missing_and_extra_files(
    registry: ContractRegistry, tmp_path: Path
) -> None:
    registry.export(tmp_path)
    assert registry.drift(tmp_path) == []

    edited = tmp_path / "widget" / "test.widget.built.v1.json"
    schema = json.loads(edited.read_text())
    schema["properties"]["data"]["required"].append("colour")
    edited.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    (tmp_path / "widget" / "examples" / "test.widget.scrapped.v1.json").unlink()
    (tmp_path / "widget" / "test.widget.painted.v1.json").write_text("{}\n")

    assert registry.drift(tmp_path) == [
        "widget/test.widget.built.v1.json: differs from the models",
        "widget/examples/test.widget.scrapped.v1.json: missing",
        "widget/test.widget.painted.v1.json: produced by no contract",
    ]

    registry.export(tmp_path)
    assert registry.drift(tmp_path) == []
    assert not (tmp_path / "widget" / "test.widget.painted.v1.json").exists()


def test_drift_of_an_empty_directory_lists_every_file(registry: ContractRegistry) -> None:
    missing = registry.drift()

    assert len(missing) == 4
    assert all(line.endswith(": missing") for line in missing)


# --- validation ----------------------------------------------------------------------------


def test_example_validates(registry: ContractRegistry) -> None:
    registry.export()

    registry.validate(registry.example_envelope(WIDGET_BUILT))
    registry.validate(
        json.loads(to_json_bytes(WIDGET_SCRAPPED.event(WidgetScrapped(widget_id="x"))))
    )


def test_validate_lists_every_violation_with_its_path(registry: ContractRegistry) -> None:
    registry.export()
    envelope = copy.deepcopy(registry.example_envelope(WIDGET_BUILT))
    envelope["id"] = "not-a-uuid"
    envelope["time"] = "yesterday"
    envelope["data"]["parts"][0]["weight"] = -1
    envelope["data"]["colour"] = 7
    del envelope["data"]["widget_id"]

    with pytest.raises(ContractViolation) as caught:
        registry.validate(envelope)

    assert caught.value.errors == [
        "$.data: 'widget_id' is a required property",
        "$.data.colour: 7 is not of type 'string' or 'null'",
        "$.data.parts[0].weight: -1 is less than the minimum of 0",
        "$.id: 'not-a-uuid' is not a 'uuid'",
        "$.time: 'yesterday' is not a 'date-time'",
    ]
    assert "$.data.parts[0].weight" in str(caught.value)


def test_validate_checks_the_type_constant(registry: ContractRegistry) -> None:
    registry.export()
    envelope = registry.example_envelope(WIDGET_BUILT)

    with pytest.raises(UnknownEventType):
        registry.validate({**envelope, "type": "test.widget.painted"})
    with pytest.raises(ContractViolation, match=r"\$\.type"):
        registry.validate({**envelope, "type": None})


def test_parse_gives_typed_data(registry: ContractRegistry) -> None:
    raw = json.dumps(registry.example_envelope(WIDGET_BUILT)).encode()

    event = registry.parse(raw)

    assert isinstance(event.data, WidgetBuilt)
    assert event.data.parts == [Part(name="bolt", weight=3)]
    assert json.loads(to_json_bytes(event)) == json.loads(raw)


# --- backward compatibility ------------------------------------------------------------------


def base_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "minLength": 1},
                    "status": {"$ref": "#/$defs/Status"},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
                    "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                    "kind": {"const": "order"},
                },
                "required": ["order_id"],
                "additionalProperties": True,
            }
        },
        "$defs": {
            "Status": {"type": "string", "enum": ["pending", "paid", "refunded"]},
            "Line": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "price": {"type": "string"}},
            },
        },
    }


def changed(edit: str) -> dict[str, Any]:
    schema = base_schema()
    data = schema["properties"]["data"]
    props = data["properties"]
    if edit == "remove":
        del props["note"]
    elif edit == "require":
        data["required"].append("note")
    elif edit == "type":
        props["order_id"] = {"type": "integer"}
    elif edit == "enum":
        schema["$defs"]["Status"]["enum"] = ["pending", "paid"]
    elif edit == "const":
        props["kind"] = {"const": "refund"}
    elif edit == "closed":
        data["additionalProperties"] = False
    elif edit == "pattern":
        schema["$defs"]["Line"]["properties"]["price"]["pattern"] = r"^\d+$"
    elif edit == "format":
        props["order_id"]["format"] = "uuid"
    elif edit == "maximum":
        props["quantity"]["maximum"] = 10
    elif edit == "minimum":
        props["quantity"]["minimum"] = 2
    elif edit == "not-null":
        props["note"] = {"type": "string"}
    elif edit == "nested-remove":
        del schema["$defs"]["Line"]["properties"]["sku"]
    return schema


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("remove", "$.data.note: property removed"),
        ("require", "$.data.note: newly required"),
        ("type", "$.data.order_id: type changed from ['string'] to ['integer']"),
        ("enum", "$.data.status: enum value(s) removed: ['refunded']"),
        ("const", "$.data.kind: const changed from 'order' to 'refund'"),
        ("closed", "$.data: additionalProperties turned false"),
        ("pattern", "$.data.lines[*].price: pattern added: '^\\\\d+$'"),
        ("format", "$.data.order_id: format added: 'uuid'"),
        ("maximum", "$.data.quantity: maximum tightened to 10"),
        ("minimum", "$.data.quantity: minimum tightened to 2"),
        ("not-null", "$.data.note: type changed from ['null'] to ['string']"),
        ("nested-remove", "$.data.lines[*].sku: property removed"),
    ],
)
def test_incompatibilities_catch_each_rule(edit: str, problem: str) -> None:
    assert incompatibilities(base_schema(), changed(edit)) == [problem]


def test_additive_changes_are_compatible() -> None:
    new = base_schema()
    data = new["properties"]["data"]
    data["properties"]["gift"] = {"type": "boolean", "default": False}
    data["properties"]["order_id"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    data["properties"]["quantity"] = {"type": "number", "minimum": 0}
    new["$defs"]["Status"]["enum"].append("voided")
    new["$defs"]["Line"]["properties"]["sku"]["description"] = "Stock keeping unit"
    data["properties"]["note"]["title"] = "Note"
    data["required"] = []

    assert incompatibilities(base_schema(), new) == []
    assert incompatibilities(base_schema(), base_schema()) == []


def test_an_inlined_definition_equals_its_reference() -> None:
    new = base_schema()
    new["properties"]["data"]["properties"]["status"] = {
        "type": "string",
        "enum": ["pending", "paid", "refunded"],
    }

    assert incompatibilities(base_schema(), new) == []


def test_registry_exposes_the_comparison(registry: ContractRegistry) -> None:
    old = registry.json_schema(WIDGET_BUILT)
    new = copy.deepcopy(old)
    del new["properties"]["data"]["properties"]["colour"]

    assert registry.incompatibilities(old, new) == ["$.data.colour: property removed"]
