"""Tests generated from a service's access matrix (`crm_common.access`): every guarded entry is
called with a token of every role (403 exactly for the roles the matrix leaves out), without a
token (401, which also shows the check runs before the body and parameters are validated), and
every public entry without one; plus the check that `docs/roles.md` shows the matrix as it is.

A request carries an empty JSON body and `1` for each path parameter: an admitted role may then
meet 404, 415 or 422, never 401 or 403.

A service's tests get all of them by subclassing `MatrixTests` (see its docstring).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from crm_common.access import AccessMatrix, document_section, sample_path
from crm_common.auth import Role, issue_token
from crm_common.testing.fuzz import RunningApp, running

_WITH_BODY = {"POST", "PUT", "PATCH"}


def guarded_entries(matrix: AccessMatrix) -> list[tuple[str, str]]:
    return sorted(key for key, rule in matrix.rules.items() if rule.public is None)


def public_entries(matrix: AccessMatrix) -> list[tuple[str, str]]:
    return sorted(key for key, rule in matrix.rules.items() if rule.public is not None)


def case_id(value: Any) -> str:
    """Readable test ids: `GET-/v1/x/{id}-viewer-allowed`."""
    if isinstance(value, bool):
        return "allowed" if value else "refused"
    return str(value)


@dataclass
class AccessProbe:
    app: RunningApp
    private_key: str

    @classmethod
    @contextmanager
    def running(cls, app: Any, private_key: str) -> Iterator["AccessProbe"]:
        """`app` started (its lifespan), called without default headers."""
        with running(app, headers={}) as started:
            yield cls(started, private_key)

    def send(self, method: str, path: str, *roles: Role | None) -> httpx.Response:
        """`roles` None: no token at all; () a token holding no role."""
        headers: dict[str, str] = {}
        if roles != (None,):
            named = [str(role) for role in roles if role is not None]
            token = issue_token(self.private_key, subject="access@tests", roles=named)
            headers["Authorization"] = f"Bearer {token}"
        body: Any = {} if method in _WITH_BODY else None
        request = self.app.client.build_request(
            method, sample_path(path), headers=headers, json=body
        )
        return self.app.portal.call(self.app.client.send, request)

    def check_role(self, method: str, path: str, role: Role, allowed: bool) -> None:
        response = self.send(method, path, role)
        if allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)

    def check_guarded(self, method: str, path: str) -> None:
        """No token: 401 with the bearer challenge; a token with no role: 403."""
        anonymous = self.send(method, path, None)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers.get("www-authenticate") == "Bearer"
        roleless = self.send(method, path)
        assert roleless.status_code == 403, roleless.text

    def check_public(self, method: str, path: str) -> None:
        """No bearer token asked: whatever else protects the route answers."""
        response = self.send(method, path, None)
        assert response.status_code != 403, response.text
        assert response.headers.get("www-authenticate") != "Bearer", response.text


def check_document(matrix: AccessMatrix, module: str, document: Path) -> None:
    """`document` holds `matrix.markdown()` in the section of `module`."""
    section = document_section(document.read_text(), module)
    if section is None:
        pytest.fail(f"{document} has no section for {module}")
    assert section == matrix.markdown(), (
        f"{document} is out of date: run `uv run python -m crm_common.access {document}`"
    )


class MatrixTests:
    """Every test of a service's matrix, for a class in its tests:

        class TestAccess(MatrixTests):
            access = ACCESS
            module = "campaign.access"
            app = staticmethod(create_app)

    The service's conftest provides `module_settings` (the settings of an app on stores and
    topics of its own); `docs/roles.md` is found under pytest's root directory.
    """

    access: ClassVar[AccessMatrix]
    module: ClassVar[str]
    """The module holding the matrix: its section's name in docs/roles.md."""
    app: ClassVar[Callable[[Any], Any]]
    """The service's `create_app`."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        matrix = self.access
        if "role" in metafunc.fixturenames:
            metafunc.parametrize(
                ("method", "path", "role", "allowed"), list(matrix.cases()), ids=case_id
            )
        elif (
            metafunc.function.__name__ == "test_a_guarded_entry_needs_a_token_before_anything_else"
        ):
            metafunc.parametrize(("method", "path"), guarded_entries(matrix), ids=case_id)
        elif metafunc.function.__name__ == "test_a_public_entry_takes_no_token":
            metafunc.parametrize(("method", "path"), public_entries(matrix), ids=case_id)

    @pytest.fixture(scope="class")
    def probe(self, module_settings: Any, jwt_keys: tuple[str, str]) -> Iterator[AccessProbe]:
        with AccessProbe.running(type(self).app(module_settings), jwt_keys[0]) as started:
            yield started

    @pytest.mark.integration
    def test_each_role_is_admitted_as_the_matrix_says(
        self, probe: AccessProbe, method: str, path: str, role: Role, allowed: bool
    ) -> None:
        probe.check_role(method, path, role, allowed)

    @pytest.mark.integration
    def test_a_guarded_entry_needs_a_token_before_anything_else(
        self, probe: AccessProbe, method: str, path: str
    ) -> None:
        probe.check_guarded(method, path)

    @pytest.mark.integration
    def test_a_public_entry_takes_no_token(
        self, probe: AccessProbe, method: str, path: str
    ) -> None:
        probe.check_public(method, path)

    def test_the_roles_document_shows_the_matrix(self, pytestconfig: pytest.Config) -> None:
        check_document(self.access, self.module, pytestconfig.rootpath / "docs" / "roles.md")
