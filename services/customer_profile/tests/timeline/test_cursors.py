"""Timeline page cursors: what one encodes, the other reads; anything else is a 422."""

import base64
from datetime import UTC, datetime

import pytest
from customer_profile.timeline import cursors
from customer_profile.timeline.exceptions import InvalidCursor


def test_a_cursor_names_the_position_it_was_made_from() -> None:
    at = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert cursors.decode(cursors.encode(at, 2**62)) == (at, 2**62)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        _b64("not json"),
        _b64('{"at": 1}'),
        _b64('["2026-03-01T12:00:00+00:00"]'),
        _b64('["2026-03-01T12:00:00+00:00", "12"]'),
        _b64('["2026-03-01T12:00:00+00:00", 1.5]'),
        _b64('["2026-03-01T12:00:00+00:00", true]'),
        _b64('["2026-03-01T12:00:00", 12]'),
        _b64('["yesterday", 12]'),
    ],
)
def test_a_cursor_not_made_here_is_refused_naming_the_parameter(cursor) -> None:
    with pytest.raises(InvalidCursor) as raised:
        cursors.decode(cursor)
    assert raised.value.status == 422
    assert raised.value.errors == [
        {"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}
    ]
