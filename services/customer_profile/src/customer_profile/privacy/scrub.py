"""Personal data out of free-form JSON (the merge log's snapshots), without knowing its shape."""

from collections.abc import Collection
from typing import Any

# Keys whose values are personal wherever they occur: contact fields, an identity's value, and
# free text. A field-change record under such a key (`{"before": ..., "after": ...}`) goes too.
PERSONAL_KEYS = frozenset({"email", "phone", "first_name", "last_name", "value", "note"})


def scrub(document: Any, values: Collection[str]) -> Any:
    """`document` with every value under a personal key nulled, and every string equal to one
    of `values` (case-insensitively) nulled wherever it is."""
    known = {value.lower() for value in values if value}
    return _scrub(document, known)


def _scrub(node: Any, known: set[str]) -> Any:
    if isinstance(node, dict):
        return {
            key: None if key in PERSONAL_KEYS else _scrub(value, known)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_scrub(item, known) for item in node]
    if isinstance(node, str) and node.lower() in known:
        return None
    return node
