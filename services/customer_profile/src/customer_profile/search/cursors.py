"""Opaque search cursors: the last customer id of a page and the instant the search is evaluated
at, as URL-safe base64 JSON. Pages are in customer_id order, so the next page starts strictly
after that id; keeping the instant makes every page compute lifecycle stages at the same time,
so a customer does not slip between pages because a boundary passed while paging."""

import base64
import binascii
import json
from datetime import datetime
from typing import NamedTuple

from customer_profile.timeline.exceptions import InvalidCursor


class Position(NamedTuple):
    after: str
    """The customer_id of the last item of the previous page."""
    as_of: datetime


def encode(position: Position) -> str:
    raw = json.dumps([position.after, position.as_of.isoformat()], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> Position:
    """The position `cursor` names; `InvalidCursor` (422) for anything `encode` did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor() from error
    if not (isinstance(position, list) and len(position) == 2):
        raise InvalidCursor()
    after, as_of = position
    if not isinstance(after, str) or not after or not isinstance(as_of, str):
        raise InvalidCursor()
    try:
        at = datetime.fromisoformat(as_of)
    except ValueError as error:
        raise InvalidCursor() from error
    if at.tzinfo is None:
        raise InvalidCursor()
    return Position(after, at)
