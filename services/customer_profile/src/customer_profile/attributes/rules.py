"""Tags and traits without a database: merge patches, tag operations, bounds and survivorship.

- traits: a JSON object changed by RFC 7396 merge patches (a null removes a key, an object merges
  into an object, anything else replaces); at most `TRAITS_MAX_BYTES` as compact UTF-8 JSON.
- tags: short labels, trimmed and lower-cased (`VIP ` and `vip` are one tag), at most
  `TAG_MAX_LENGTH` characters each and `TAGS_MAX` per customer; changed by `set`, or by `add`
  and `remove` together.
- merges: the survivor gets the union of the tags, and each trait key of the merged customer
  that it lacks, or that the merged customer changed more recently (`traits_updated_at`).
"""

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TRAITS_MAX_BYTES = 16 * 1024
TAG_MAX_LENGTH = 64
TAGS_MAX = 100


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with the RFC 7396 merge `patch` applied (neither argument is changed)."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def canonical(value: Any) -> str:
    """One text per JSON value: for comparing values (in Python `True == 1`, in JSON not) and
    for measuring them."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def traits_size(traits: Mapping[str, Any]) -> int:
    """Bytes of `traits` as compact UTF-8 JSON: what `TRAITS_MAX_BYTES` bounds."""
    return len(canonical(traits).encode())


def normalise_tag(raw: str) -> str:
    """The tag as stored: NFC, trimmed, lower-cased; ValueError when empty, too long, or holding
    control characters."""
    tag = unicodedata.normalize("NFC", raw).strip().lower()
    if not tag:
        raise ValueError("a tag cannot be empty")
    if len(tag) > TAG_MAX_LENGTH:
        raise ValueError(f"a tag has at most {TAG_MAX_LENGTH} characters")
    if any(unicodedata.category(char) in {"Cc", "Cf"} for char in tag):
        raise ValueError("a tag cannot hold control characters")
    return tag


@dataclass(frozen=True, slots=True)
class TagChange:
    """The tags to insert and to delete to carry out an operation on a customer's tags."""

    add: frozenset[str]
    remove: frozenset[str]
    keep_explicit: frozenset[str]
    """Tags the customer keeps that the operation names: explicit from now on (an undo of the
    merge that brought them no longer takes them back)."""

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove)


def tag_change(
    current: Iterable[str],
    *,
    set_to: Iterable[str] | None = None,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> TagChange:
    """What `set_to` (the whole set), or `add` and `remove` (already normalised), do to
    `current`."""
    have = frozenset(current)
    if set_to is not None:
        wanted = frozenset(set_to)
        named = wanted
    else:
        wanted = (have - frozenset(remove)) | frozenset(add)
        named = frozenset(add)
    return TagChange(add=wanted - have, remove=have - wanted, keep_explicit=named & have)


@dataclass(frozen=True, slots=True)
class TraitsMerge:
    traits: dict[str, Any]
    """The survivor's traits after the merge."""
    changes: dict[str, dict[str, Any]]
    """Per key the merge set: `{"before": [] or [old value], "after": new value}`."""
    updated_at: datetime | None
    """The survivor's `traits_updated_at` after the merge: the later of the two."""


def merge_traits(
    survivor: Mapping[str, Any],
    survivor_updated_at: datetime | None,
    merged: Mapping[str, Any],
    merged_updated_at: datetime | None,
) -> TraitsMerge:
    """Every key of both; a key both hold keeps the value of the customer whose traits changed
    most recently (the survivor's on a tie)."""
    merged_newer = merged_updated_at is not None and (
        survivor_updated_at is None or merged_updated_at > survivor_updated_at
    )
    traits = dict(survivor)
    changes: dict[str, dict[str, Any]] = {}
    for key, value in merged.items():
        if key in survivor and (not merged_newer or canonical(survivor[key]) == canonical(value)):
            continue
        changes[key] = {"before": [survivor[key]] if key in survivor else [], "after": value}
        traits[key] = value
    times = [t for t in (survivor_updated_at, merged_updated_at) if t is not None]
    updated_at = max(times) if changes and times else survivor_updated_at
    return TraitsMerge(traits, changes, updated_at)


def unmerge_traits(
    current: Mapping[str, Any], changes: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The survivor's traits without what a merge set: each key the merge set and nobody
    changed since goes back to its value before (or away); a key changed since stays."""
    traits = dict(current)
    for key, change in changes.items():
        if key not in traits or canonical(traits[key]) != canonical(change["after"]):
            continue
        before = change["before"]
        if before:
            traits[key] = before[0]
        else:
            del traits[key]
    return traits
