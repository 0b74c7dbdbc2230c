"""The access matrix (customer_profile/access.py) on the running app, entry by entry and role
by role, and its table in docs/roles.md."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from crm_common.auth import Role
from crm_common.testing.access import (
    AccessProbe,
    case_id,
    check_document,
    guarded_entries,
    public_entries,
)
from customer_profile.access import ACCESS
from customer_profile.config import Settings
from customer_profile.main import create_app

ROLES_DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "roles.md"


@pytest.fixture(scope="module")
def probe(module_settings: Settings, jwt_keys: tuple[str, str]) -> Iterator[AccessProbe]:
    with AccessProbe.running(create_app(module_settings), jwt_keys[0]) as started:
        yield started


@pytest.mark.integration
@pytest.mark.parametrize(("method", "path", "role", "allowed"), list(ACCESS.cases()), ids=case_id)
def test_each_role_is_admitted_as_the_matrix_says(
    probe: AccessProbe, method: str, path: str, role: Role, allowed: bool
) -> None:
    probe.check_role(method, path, role, allowed)


@pytest.mark.integration
@pytest.mark.parametrize(("method", "path"), guarded_entries(ACCESS), ids=case_id)
def test_a_guarded_entry_needs_a_token_before_anything_else(
    probe: AccessProbe, method: str, path: str
) -> None:
    probe.check_guarded(method, path)


@pytest.mark.integration
@pytest.mark.parametrize(("method", "path"), public_entries(ACCESS), ids=case_id)
def test_a_public_entry_takes_no_token(probe: AccessProbe, method: str, path: str) -> None:
    probe.check_public(method, path)


def test_the_roles_document_shows_the_matrix() -> None:
    check_document(ACCESS, "customer_profile.access", ROLES_DOCUMENT)
