"""Opaque page cursors: the (occurred_at, entry_id) of a page's last entry, as URL-safe base64
JSON. The next page starts strictly after it."""

import base64
import binascii
import json
from datetime import datetime

from customer_profile.timeline.exceptions import InvalidCursor


def encode(occurred_at: datetime, entry_id: int) -> str:
    raw = json.dumps([occurred_at.isoformat(), entry_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int]:
    """The position `cursor` names; `InvalidCursor` for anything `encode` did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor() from error
    if not (isinstance(position, list) and len(position) == 2):
        raise InvalidCursor()
    occurred_at, entry_id = position
    if not isinstance(occurred_at, str) or type(entry_id) is not int:
        raise InvalidCursor()
    try:
        at = datetime.fromisoformat(occurred_at)
    except ValueError as error:
        raise InvalidCursor() from error
    if at.tzinfo is None:
        raise InvalidCursor()
    return at, entry_id
