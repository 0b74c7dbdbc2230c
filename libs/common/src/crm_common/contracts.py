"""Event contracts: one pydantic model per event type, exported as committed JSON Schemas.

The models are the single source of truth. A `ContractRegistry` turns each registered
`EventContract` into a JSON Schema (draft 2020-12) of the whole CloudEvent envelope and an example
event, writes them under `<schemas_dir>/<domain>/`, reports drift between the committed files and
the models, validates envelopes against the committed files, and tells which schema changes would
break consumers of an earlier version. The contracts themselves live in the `crm_events` package.
"""

import builtins
import functools
import inspect
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Generic, TypeVar
from uuid import NAMESPACE_URL, uuid5

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaViolation
from jsonschema.exceptions import best_match
from pydantic import BaseModel

from crm_common.envelope import CloudEvent, parse_envelope, to_json_bytes

__all__ = [
    "EXAMPLE_TIME",
    "SCHEMA_BASE_URI",
    "SCHEMA_DIALECT",
    "ContractRegistry",
    "ContractViolation",
    "EventContract",
    "UnknownEventType",
    "incompatibilities",
    "render_json",
]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URI = "https://schemas.crm-suite.dev/events"
# Examples carry a fixed time and an id derived from the schema's $id so export is deterministic.
EXAMPLE_TIME = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_-]*$")
_CONTRACT_FILE = re.compile(r"^[a-z][a-z0-9_.]*\.v[0-9]+\.json$")

ModelT = TypeVar("ModelT", bound=BaseModel)


class UnknownEventType(LookupError):
    """No contract is registered for this event type (and version)."""


class ContractViolation(ValueError):
    """An envelope that its committed JSON Schema rejects; `errors` holds one line per violation."""

    def __init__(self, event_type: str, errors: list[str]) -> None:
        super().__init__(f"{event_type} breaks its contract:\n  " + "\n  ".join(errors))
        self.event_type = event_type
        self.errors = errors


@dataclass(frozen=True, eq=False)
class EventContract(Generic[ModelT]):
    """One event type at one major version: its data model, topic and an example body."""

    type: str
    version: int
    domain: str
    model: builtins.type[ModelT]
    topic: str
    example: Mapping[str, Any]
    key: str | None = None
    """The data field that is the Kafka record key and the CloudEvent `subject`."""
    source: str = "crm-suite"
    """The producer named in the example envelope's `source`."""

    def __post_init__(self) -> None:
        if not _EVENT_TYPE.match(self.type):
            raise ValueError(f"event type {self.type!r} is not lower-case dotted words")
        if not _DOMAIN.match(self.domain):
            raise ValueError(f"domain {self.domain!r} is not a lower-case folder name")
        if self.version < 1:
            raise ValueError(f"{self.type}: version must be 1 or more")
        if not (self.model.__doc__ or "").strip():
            raise ValueError(f"{self.type}: {self.model.__name__} needs a docstring")
        if self.key is not None and self.key not in self.model.model_fields:
            raise ValueError(f"{self.type}: key {self.key!r} is no field of the data model")

    @property
    def path(self) -> PurePosixPath:
        """The schema file, relative to the schemas directory."""
        return PurePosixPath(self.domain, f"{self.type}.v{self.version}.json")

    @property
    def example_path(self) -> PurePosixPath:
        return PurePosixPath(self.domain, "examples", f"{self.type}.v{self.version}.json")

    @functools.cached_property
    def schema_id(self) -> str:
        return f"{SCHEMA_BASE_URI}/{self.path}"

    def key_of(self, data: BaseModel) -> str | None:
        """The Kafka key (and CloudEvent subject) of an event carrying `data`."""
        if self.key is None:
            return None
        value = getattr(data, self.key)
        return None if value is None else str(value)

    def event(
        self, data: ModelT, *, source: str | None = None, **attributes: Any
    ) -> CloudEvent[ModelT]:
        """A new envelope of this type around `data`, with subject and dataschema filled in."""
        attributes.setdefault("subject", self.key_of(data))
        attributes.setdefault("dataschema", self.schema_id)
        return CloudEvent(source=source or self.source, type=self.type, data=data, **attributes)


class ContractRegistry:
    """Every event contract of the suite, and the committed schema files they export to."""

    def __init__(self, schemas_dir: Path | None = None) -> None:
        self._schemas_dir = schemas_dir
        self._contracts: dict[tuple[str, int], EventContract[Any]] = {}
        self._validators: dict[Path, Draft202012Validator] = {}

    @property
    def schemas_dir(self) -> Path:
        if self._schemas_dir is None:
            raise RuntimeError("this registry was built without a schemas directory")
        return self._schemas_dir

    def with_schemas_dir(self, schemas_dir: Path) -> "ContractRegistry":
        """The same contracts, bound to another schemas directory."""
        copy = ContractRegistry(schemas_dir)
        copy._contracts = dict(self._contracts)
        return copy

    def register(self, contract: EventContract[ModelT]) -> EventContract[ModelT]:
        """Add `contract`, checking its example against its model at once."""
        key = (contract.type, contract.version)
        if key in self._contracts:
            raise ValueError(f"{contract.type} v{contract.version} is already registered")
        contract.model.model_validate(contract.example)
        self._contracts[key] = contract
        return contract

    def get(self, event_type: str, version: int | None = None) -> EventContract[Any]:
        """The contract of `event_type` at `version`, or at its latest version."""
        if version is not None:
            try:
                return self._contracts[(event_type, version)]
            except KeyError:
                raise UnknownEventType(f"{event_type} v{version}") from None
        versions = [c for (t, _), c in self._contracts.items() if t == event_type]
        if not versions:
            raise UnknownEventType(event_type)
        return max(versions, key=lambda c: c.version)

    def model_for(self, event_type: str, version: int | None = None) -> type[BaseModel]:
        return self.get(event_type, version).model

    def __contains__(self, event_type: object) -> bool:
        return any(t == event_type for t, _ in self._contracts)

    def __iter__(self) -> Iterator[EventContract[Any]]:
        return iter(sorted(self._contracts.values(), key=lambda c: (c.domain, c.type, c.version)))

    def __len__(self) -> int:
        return len(self._contracts)

    def topics(self) -> set[str]:
        return {contract.topic for contract in self._contracts.values()}

    # --- JSON Schema export ---------------------------------------------------------------

    def json_schema(self, contract: EventContract[Any]) -> dict[str, Any]:
        """A draft 2020-12 JSON Schema of the whole envelope of `contract`'s event type."""
        data = contract.model.model_json_schema(mode="validation")
        definitions = data.pop("$defs", {})
        envelope = CloudEvent[dict[str, Any]].model_json_schema(mode="validation")
        envelope.pop("title", None)
        properties = envelope["properties"]
        properties["type"] = {"const": contract.type, "type": "string"}
        properties["data"] = data
        schema: dict[str, Any] = {
            "$schema": SCHEMA_DIALECT,
            "$id": contract.schema_id,
            "title": f"{contract.type} v{contract.version}",
            "description": inspect.cleandoc(contract.model.__doc__ or ""),
            **envelope,
            "x-topic": contract.topic,
        }
        if contract.key is not None:
            schema["x-key"] = f"data.{contract.key}"
        if definitions:
            schema["$defs"] = definitions
        return schema

    def example_envelope(self, contract: EventContract[Any]) -> dict[str, Any]:
        """The example as a complete envelope, with a fixed id and time."""
        data = contract.model.model_validate(contract.example)
        event = contract.event(
            data, id=str(uuid5(NAMESPACE_URL, contract.schema_id)), time=EXAMPLE_TIME
        )
        example: dict[str, Any] = json.loads(to_json_bytes(event))
        return example

    def render(self) -> dict[PurePosixPath, str]:
        """Every file export writes, by path relative to the schemas directory."""
        files: dict[PurePosixPath, str] = {}
        for contract in self:
            files[contract.path] = render_json(self.json_schema(contract))
            files[contract.example_path] = render_json(self.example_envelope(contract))
        return files

    def export(self, schemas_dir: Path | None = None) -> list[Path]:
        """Write every schema and example; remove contract files no model produces any more."""
        root = schemas_dir or self.schemas_dir
        expected = self.render()
        written: list[Path] = []
        for relative, text in expected.items():
            target = root.joinpath(relative)
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                written.append(target)
        for relative in _json_files(root) - expected.keys():
            if _CONTRACT_FILE.match(relative.name):
                root.joinpath(relative).unlink()
        self._validators.clear()
        return written

    def drift(self, schemas_dir: Path | None = None) -> list[str]:
        """Files under `schemas_dir` that differ from the models' output, are missing or extra."""
        root = schemas_dir or self.schemas_dir
        expected = self.render()
        problems: list[str] = []
        for relative, text in expected.items():
            target = root.joinpath(relative)
            if not target.is_file():
                problems.append(f"{relative}: missing")
            elif target.read_text(encoding="utf-8") != text:
                problems.append(f"{relative}: differs from the models")
        problems.extend(
            f"{relative}: produced by no contract"
            for relative in sorted(_json_files(root) - expected.keys())
        )
        return problems

    # --- validation -----------------------------------------------------------------------

    def validate(self, envelope: Mapping[str, Any]) -> None:
        """Check `envelope` against the committed schema of its type; raise `ContractViolation`."""
        event_type = envelope.get("type")
        if not isinstance(event_type, str):
            raise ContractViolation("event", ["$.type: missing or not a string"])
        contract = self._contract_of(event_type, envelope.get("dataschema"))
        validator = self._validator(contract)
        errors = sorted(validator.iter_errors(envelope), key=lambda e: (e.json_path, e.message))
        if errors:
            raise ContractViolation(
                f"{contract.type} v{contract.version}", [_explain(error) for error in errors]
            )

    def parse(self, raw: bytes) -> CloudEvent[Any]:
        """Parse an envelope and validate its data with the model of its type.

        Raises `InvalidEnvelope`, `UnknownEventType` or pydantic's `ValidationError`.
        """
        envelope = parse_envelope(raw)
        contract = self._contract_of(envelope.type, envelope.dataschema)
        data = contract.model.model_validate(envelope.data)
        return CloudEvent[Any].model_validate({**dict(envelope), "data": data})

    def _contract_of(self, event_type: str, dataschema: object) -> EventContract[Any]:
        for contract in self._contracts.values():
            if contract.type == event_type and contract.schema_id == dataschema:
                return contract
        return self.get(event_type)

    def _validator(self, contract: EventContract[Any]) -> Draft202012Validator:
        path = self.schemas_dir.joinpath(contract.path)
        validator = self._validators.get(path)
        if validator is None:
            schema = json.loads(path.read_text(encoding="utf-8"))
            validator = Draft202012Validator(schema, format_checker=_format_checker())
            self._validators[path] = validator
        return validator

    @staticmethod
    def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        return incompatibilities(old, new)


def render_json(document: Any) -> str:
    """The committed form of a JSON document: 2-space indent, sorted keys, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _json_files(root: Path) -> set[PurePosixPath]:
    if not root.is_dir():
        return set()
    return {PurePosixPath(path.relative_to(root).as_posix()) for path in root.rglob("*.json")}


def _explain(error: SchemaViolation) -> str:
    # For anyOf/oneOf (every nullable field) the error inside the branch of the right JSON type
    # says more than "is not valid under any of the given schemas" or "is not of type 'null'".
    branches = error.context or []
    type_errors = [
        e
        for e in branches
        if e.validator == "type" and not e.relative_path and len(e.relative_schema_path) == 2
    ]
    wrong_type = {e.relative_schema_path[0] for e in type_errors}
    relevant = [e for e in branches if e.relative_schema_path[0] not in wrong_type]
    if relevant:
        detail = best_match(relevant)
        return f"{detail.json_path}: {detail.message}"
    if type_errors:
        expected = " or ".join(repr(e.validator_value) for e in type_errors)
        return f"{error.json_path}: {error.instance!r} is not of type {expected}"
    return f"{error.json_path}: {error.message}"


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")


def _is_rfc3339(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.match(instance):
        return False
    datetime.fromisoformat(instance.upper())  # rejects impossible dates such as 02-30
    return True


def _is_uri(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_URI.match(instance))


def _format_checker() -> FormatChecker:
    # jsonschema checks date-time and uri only when optional packages are installed; these
    # two checks keep validation identical everywhere.
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_rfc3339)
    checker.checks("uri")(_is_uri)
    return checker


# --- backward compatibility -----------------------------------------------------------------

_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated"})
_MAX_DEPTH = 64


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Changes from schema `old` to `new` that could reject data `old` accepted, one per line.

    Within a major version only additive changes are allowed: new optional properties, widened
    types, relaxed bounds. Each problem is prefixed with the JSON path of the affected data.
    """
    problems = _Comparison(old, new).node(old, new, "$", 0)
    return list(dict.fromkeys(problems))


class _Comparison:
    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self._old_root = old_root
        self._new_root = new_root

    def node(self, old: Any, new: Any, path: str, depth: int) -> list[str]:
        if depth > _MAX_DEPTH:
            return []  # a recursive schema: the levels above already compared this shape
        old = _normalise(_resolve(old, self._old_root))
        new = _normalise(_resolve(new, self._new_root))
        if new is False and old is not False:
            return [f"{path}: no value is accepted any more"]
        if old is False or new is True:
            return []
        if old is True:
            old = {}
        old_branches = _branches(old, self._old_root)
        new_branches = _branches(new, self._new_root)
        if old_branches is None and new_branches is None:
            return self._keywords(old, new, path, depth)
        problems: list[str] = []
        for old_branch in old_branches or [old]:
            candidates: list[list[str]] = [
                self.node(old_branch, new_branch, path, depth + 1)
                for new_branch in new_branches or [new]
            ]
            closest = min(candidates, key=len)  # the branch that still fits best explains best
            problems.extend(closest)
        return problems

    def _keywords(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str, depth: int
    ) -> list[str]:
        if _no_type_kept(old, new):
            # Nothing the old schema accepted passes any more: finer differences are only noise.
            return _scalar_changes({"type": old["type"]}, {"type": new["type"]}, path)
        problems = _scalar_changes(old, new, path)
        old_properties: Mapping[str, Any] = old.get("properties", {})
        new_properties: Mapping[str, Any] = new.get("properties", {})
        for name, old_property in old_properties.items():
            where = f"{path}.{name}"
            if name not in new_properties:
                problems.append(f"{where}: property removed")
            else:
                problems.extend(self.node(old_property, new_properties[name], where, depth + 1))
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            problems.append(f"{path}.{name}: newly required")
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            problems.append(f"{path}: additionalProperties turned false")
        elif isinstance(new_extra, Mapping) and old_extra is not False:
            problems.extend(self.node(old_extra, new_extra, f"{path}.*", depth + 1))
        if "items" in new:
            problems.extend(self.node(old.get("items", {}), new["items"], f"{path}[*]", depth + 1))
        return problems


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    seen: set[str] = set()
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        ref: str = schema["$ref"]
        if not ref.startswith("#/") or ref in seen:
            break
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings} if siblings else target
    return schema


def _normalise(schema: Any) -> Any:
    # An empty allOf wrapper or a single-entry one (older pydantic output) means its only member.
    if isinstance(schema, Mapping) and isinstance(schema.get("allOf"), list):
        members = schema["allOf"]
        if len(members) == 1 and isinstance(members[0], Mapping):
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            return {**members[0], **rest}
    return schema


def _branches(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[Any] | None:
    """The alternatives of an anyOf/oneOf, each with the keywords that sit next to it."""
    for keyword in ("anyOf", "oneOf"):
        members = schema.get(keyword)
        if isinstance(members, list):
            shared = {
                k: v
                for k, v in schema.items()
                if k not in ("anyOf", "oneOf") and k not in _ANNOTATIONS
            }
            resolved = [_resolve(member, root) for member in members]
            return [
                {**shared, **member} if isinstance(member, Mapping) else member
                for member in resolved
            ]
    return None


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _lost_types(old_types: set[str], new_types: set[str]) -> set[str]:
    return {
        t
        for t in old_types
        if t not in new_types and not (t == "integer" and "number" in new_types)
    }


def _no_type_kept(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    old_types, new_types = _types(old), _types(new)
    if not old_types or new_types is None:
        return False
    return _lost_types(old_types, new_types) == old_types


def _allowed_values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _scalar_changes(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        if old_types is None:
            problems.append(f"{path}: type narrowed from any to {sorted(new_types)}")
        elif _lost_types(old_types, new_types):
            problems.append(f"{path}: type changed from {sorted(old_types)} to {sorted(new_types)}")
    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if new_values is not None:
        if "const" in old and "const" in new and old["const"] != new["const"]:
            problems.append(f"{path}: const changed from {old['const']!r} to {new['const']!r}")
        elif old_values is None:
            problems.append(f"{path}: values now restricted to {new_values!r}")
        else:
            removed = [value for value in old_values if value not in new_values]
            if removed:
                problems.append(f"{path}: enum value(s) removed: {removed!r}")
    for keyword in ("pattern", "format", "multipleOf"):
        if keyword in new and new[keyword] != old.get(keyword):
            before = old.get(keyword)
            change = "added:" if before is None else f"changed from {before!r} to"
            problems.append(f"{path}: {keyword} {change} {new[keyword]!r}")
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            problems.append(f"{path}: {keyword} tightened to {new[keyword]!r}")
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            problems.append(f"{path}: {keyword} tightened to {new[keyword]!r}")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        problems.append(f"{path}: uniqueItems turned true")
    return problems
