"""Who may call what: one matrix of roles against every route of a service.

A service declares its `AccessMatrix` once (`<service>/access.py`); `create_http_app(access=...)`
then checks every request against it with one app-level dependency (before any route
dependency or body validation), refuses to build an app whose routes and matrix disagree, and
documents 401/403 from it. The matrix also names the roles that see personal data unmasked, and
renders itself as the Markdown table of `docs/roles.md`.
"""

import importlib
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.routing import iter_route_contexts

from crm_common.auth import ALL_ROLES, Principal, Role, authenticate, ensure_any
from crm_common.problems import Forbidden, Unauthorized

ROLE_ORDER = (Role.ADMIN, Role.MARKETER, Role.AGENT, Role.ANALYST, Role.VIEWER)


@dataclass(frozen=True, slots=True)
class Rule:
    """The roles admitted to one route, or why it takes no token at all."""

    roles: frozenset[Role]
    public: str | None = None


def allow(*roles: Role) -> Rule:
    """Callers holding any of `roles`; admin always."""
    return Rule(frozenset({Role.ADMIN, *roles}))


def public(why: str) -> Rule:
    """No bearer token: `why` says what protects the route instead (or why nothing needs to)."""
    return Rule(frozenset(), public=why)


EVERYONE = allow(*ALL_ROLES)
ADMIN_ONLY = allow()

OPERATIONS: Mapping[str, Rule] = {
    "GET /health/live": public("liveness probe"),
    "GET /health/ready": public("readiness probe"),
    "GET /metrics": public("Prometheus scrape; no personal data"),
    "GET /asyncapi.json": public("API document"),
    "GET /openapi.json": public("API document"),
    "GET /docs": public("API document"),
    "GET /docs/oauth2-redirect": public("API document"),
    "GET /redoc": public("API document"),
}
"""What `crm_common.http` serves on every service: each matrix lists these (`**OPERATIONS`)."""


class AccessMatrixError(ValueError):
    """The matrix and the app's routes disagree: the app must not start."""


@dataclass(frozen=True)
class AccessMatrix:
    service: str
    rules: Mapping[tuple[str, str], Rule]
    """By (HTTP method, path template as OpenAPI writes it)."""
    personal_data: frozenset[Role]
    """Who sees email, phone, names and addresses unmasked (admin always)."""
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def of(
        cls,
        service: str,
        routes: Mapping[str, Rule],
        *,
        personal_data: Iterable[Role],
        notes: Iterable[str] = (),
    ) -> "AccessMatrix":
        """`routes` keyed `"METHOD /path/{param}"`."""
        rules: dict[tuple[str, str], Rule] = {}
        for key, rule in routes.items():
            method, _, path = key.partition(" ")
            if not path.startswith("/") or method.upper() != method:
                raise AccessMatrixError(f"{key!r} is not 'METHOD /path'")
            rules[(method, path)] = rule
        return cls(
            service=service,
            rules=rules,
            personal_data=frozenset({Role.ADMIN, *personal_data}),
            notes=tuple(notes),
        )

    def rule(self, method: str, path: str) -> Rule | None:
        return self.rules.get(("GET" if method == "HEAD" else method, path))

    def sees_personal_data(self, principal: Principal) -> bool:
        return bool(principal.roles & self.personal_data)

    def check(self, app: FastAPI) -> None:
        """Raise `AccessMatrixError` when a route of `app` has no entry or an entry no route."""
        served = set(served_routes(app))
        missing = sorted(served - self.rules.keys())
        stale = sorted(self.rules.keys() - served)
        problems = [f"no access rule for {m} {p}" for m, p in missing]
        problems += [f"an access rule for {m} {p}, which is not served" for m, p in stale]
        if problems:
            raise AccessMatrixError(f"{self.service}: " + "; ".join(problems))

    def cases(self) -> Iterator[tuple[str, str, Role, bool]]:
        """(method, path, role, allowed) for every guarded entry and role: for tests."""
        for (method, path), rule in sorted(self.rules.items(), key=_by_path):
            if rule.public is None:
                for role in ROLE_ORDER:
                    yield method, path, role, role in rule.roles

    def markdown(self) -> str:
        """The matrix as a Markdown table (✓ allowed, blank refused)."""
        head = ["method", "path", *ROLE_ORDER]
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for (method, path), rule in sorted(self.rules.items(), key=_by_path):
            if rule.public is not None:
                cells = [f"public: {rule.public}", *[""] * (len(ROLE_ORDER) - 1)]
            else:
                cells = ["✓" if role in rule.roles else "" for role in ROLE_ORDER]
            lines.append("| " + " | ".join([method, f"`{path}`", *cells]) + " |")
        unmasked = ", ".join(role for role in ROLE_ORDER if role in self.personal_data)
        lines += ["", f"Personal data unmasked for: {unmasked}."]
        lines += [f"{note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _by_path(item: tuple[tuple[str, str], Rule]) -> tuple[str, str]:
    (method, path), _ = item
    return path, method


def served_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every HTTP route of `app` (HEAD is GET's)."""
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD" and route.path_format is not None:
                yield method, route.path_format


def sample_path(path: str) -> str:
    """`path` with each `{parameter}` given a value: for tests."""
    return re.sub(r"\{[^}]+\}", "1", path)


def install(app: FastAPI, matrix: AccessMatrix) -> None:
    """Check the matrix against the app (raises `AccessMatrixError`) and keep it for `authorize`."""
    matrix.check(app)
    app.state.access = matrix


async def authorize(request: Request) -> None:
    """The app-level dependency: the matched route's rule decides; no rule, no access."""
    matrix: AccessMatrix = request.app.state.access
    route = request.scope.get("route")
    rule = matrix.rule(request.method, getattr(route, "path_format", ""))
    if rule is None:
        raise Forbidden(f"no access rule for {request.method} {request.url.path}")
    if rule.public is not None:
        return
    principal = await authenticate(request)
    ensure_any(principal, rule.roles)
    request.state.principal = principal


async def current_principal(request: Request) -> Principal:
    """Who is calling, as `authorize` found them (for audits and masking)."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return principal


async def sees_personal_data(request: Request) -> bool:
    """Whether the caller may see personal data unmasked, by the app's matrix."""
    matrix: AccessMatrix = request.app.state.access
    return matrix.sees_personal_data(await current_principal(request))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
SeesPersonalData = Annotated[bool, Depends(sees_personal_data)]


# Masking: enough left to recognise a record on the phone with its owner, not to contact them.
def mask_email(email: str | None) -> str | None:
    """`ann.lee@example.com` -> `a***@example.com`."""
    if not email:
        return email
    local, at, domain = email.rpartition("@")
    if not at:
        return mask_text(email)
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """`+447946000958` -> `+44********58`: the first two digits and the last two."""
    if not phone:
        return phone
    keep_head = 3 if phone.startswith("+") else 2
    if len(phone) <= keep_head + 2:
        return "*" * len(phone)
    return phone[:keep_head] + "*" * (len(phone) - keep_head - 2) + phone[-2:]


def mask_text(text: str | None) -> str | None:
    """A name or an address line: `Ann` -> `A***`."""
    if not text:
        return text
    return f"{text[:1]}***"


# The roles document: one section per service between markers naming its matrix's module.
_SECTION = re.compile(
    r"(<!-- BEGIN access: (?P<module>[\w.]+) -->\n)(?P<body>.*?)(<!-- END access -->)", re.S
)


def document_section(document: str, module: str) -> str | None:
    """The table held in `document` for the matrix of `module`, or None."""
    for found in _SECTION.finditer(document):
        if found["module"] == module:
            return found["body"]
    return None


def render_document(document: str) -> str:
    """`document` with every section replaced by its module's `ACCESS.markdown()`."""

    def table(found: re.Match[str]) -> str:
        matrix: AccessMatrix = importlib.import_module(found["module"]).ACCESS
        return found[1] + matrix.markdown() + found[4]

    return _SECTION.sub(table, document)


def main(argv: list[str]) -> int:
    """`python -m crm_common.access docs/roles.md`: regenerate the tables in place."""
    for name in argv or ["docs/roles.md"]:
        path = Path(name)
        path.write_text(render_document(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
