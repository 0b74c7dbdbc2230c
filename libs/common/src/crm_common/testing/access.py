"""Tests generated from a service's access matrix (`crm_common.access`): every guarded entry is
called with a token of every role (403 exactly for the roles the matrix leaves out), without a
token (401, which also shows the check runs before the body and parameters are validated), and
every public entry without one; plus the check that `docs/roles.md` shows the matrix as it is.

A request carries an empty JSON body and `1` for each path parameter: an admitted role may then
meet 404, 415 or 422, never 401 or 403.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
