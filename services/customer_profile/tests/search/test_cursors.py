from datetime import UTC, datetime

import pytest
from crm_common.problems import ProblemError
from customer_profile.search import cursors

AS_OF = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_a_cursor_gives_back_its_position() -> None:
    position = cursors.Position("8d1c5e2a-6b7f-4e3d-9a10-3c2b1a0f9e87", AS_OF)
    assert cursors.decode(cursors.encode(position)) == position


@pytest.mark.parametrize(
    "forged",
    [
        "not base64!",
        "",
        "W10",  # []
        "WzEsMl0",  # [1,2]
        "WyJhIiwibm90IGEgdGltZSJd",  # ["a","not a time"]
        "WyJhIiwiMjAyNi0wNi0wMVQxMjowMDowMCJd",  # ["a","2026-06-01T12:00:00"]: no zone
        "WyIiLCIyMDI2LTA2LTAxVDEyOjAwOjAwKzAwOjAwIl0",  # ["", ...]: no customer id
    ],
)
def test_a_forged_cursor_is_a_422_naming_it(forged: str) -> None:
    with pytest.raises(ProblemError) as caught:
        cursors.decode(forged)
    assert caught.value.status == 422
    assert caught.value.errors == [
        {"field": "query.cursor", "message": "invalid cursor", "type": "cursor"}
    ]
