"""The platform payloads under tests/fixtures/, read as the exact bytes a shop sent."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from order_sync.connectors._fields import parse_json_object

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """The bytes of `platform/name.json`."""
    return lambda name: (FIXTURES / f"{name}.json").read_bytes()


@pytest.fixture
def payload(fixture_bytes: Callable[[str], bytes]) -> Callable[[str], dict[str, Any]]:
    """A fixture parsed the way the webhooks parse a body (exact ints, Decimal fractions)."""
    return lambda name: parse_json_object(fixture_bytes(name))
