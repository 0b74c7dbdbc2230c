"""Opaque page cursors: the position after the last item of a page, as URL-safe base64 JSON."""

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from customer_profile.merges.exceptions import InvalidCursor


def encode(position: list[Any]) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor() from error


def log_position(cursor: str | None) -> int:
    """The merge-log sequence number a cursor points after (0: from the start)."""
    if cursor is None:
        return 0
    position = _decode(cursor)
    if not (isinstance(position, list) and len(position) == 1 and type(position[0]) is int):
        raise InvalidCursor()
    return int(position[0])


def suggestion_position(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, suggestion_id) a cursor points after (None: from the start)."""
    if cursor is None:
        return None
    position = _decode(cursor)
    if not (isinstance(position, list) and len(position) == 2):
        raise InvalidCursor()
    created_at, suggestion_id = position
    if not isinstance(created_at, str) or not isinstance(suggestion_id, str):
        raise InvalidCursor()
    try:
        at = datetime.fromisoformat(created_at)
    except ValueError as error:
        raise InvalidCursor() from error
    if at.tzinfo is None:
        raise InvalidCursor()
    return at, suggestion_id
