"""Fuzzing a service's OpenAPI with schemathesis, in process, against the app on real stores.

A test module loads the document at import (`openapi_schema(app.openapi())`, from an app that
never starts) so that `@schema.parametrize()` makes one test per operation, and starts the real
app once for all of them (`running(app)`: its lifespan in a thread of its own, as a server
would run it). Every answer is checked for `CHECKS`: no 5xx; every status code, content type,
body and header as documented; every error an RFC 9457 problem whose `status` is the HTTP
status. Runs are seeded and bounded, so the same cases run every time.

Needs the workspace's dev dependencies (schemathesis, asgi-lifespan), unlike the rest of
crm_common.
"""

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import requests
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from asgi_lifespan import LifespanManager
from schemathesis import BaseSchema, Case, CheckContext, Response

from crm_common.problems import PROBLEM_JSON

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "problem_json",
)
"""What every response is checked for (`problem_json` is defined here)."""

SEED = 20_260_101
_BASE_URL = "http://testserver"

TEXT_BODIES = ("application/x-ndjson",)
"""Media types of request bodies that are text but not `text/*` (which schemathesis sends as
text already): sent like text/plain, a string drawn from the document's schema."""
schemathesis.serializer.alias(list(TEXT_BODIES), "text/plain")


@schemathesis.check
def problem_json(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:  # noqa: ARG001
    """An error answer (4xx, 5xx) is application/problem+json whose `status` is its status."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.partition(";")[0].strip().lower() != PROBLEM_JSON:
        raise AssertionError(
            f"a {response.status_code} answer is {content_type or 'untyped'}, not {PROBLEM_JSON}"
        )
    body = response.json()
    status = body.get("status") if isinstance(body, dict) else None
    if status != response.status_code:
        raise AssertionError(
            f"a {response.status_code} problem says status {status!r}: {response.text[:300]}"
        )
    return True


def openapi_schema(
    document: dict[str, Any],
    *,
    max_examples: int = 25,
    without_boundaries: Sequence[str] = (),
) -> BaseSchema:
    """The document, for seeded, bounded generation of valid and invalid requests (the
    document's examples, its boundary values, then `max_examples` drawn per operation).

    `without_boundaries` names operations (`POST /v1/segments`) whose boundary values are not
    enumerated: for a recursive body schema, schemathesis' coverage phase builds its cases at
    collection, for minutes; those operations still get their examples and drawn requests."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": max_examples,
                "deterministic": True,
                # Nothing kept between runs (no .hypothesis/ directory): the seed decides.
                "database": "none",
                "allow-x00": True,
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
            },
            "operations": [
                {
                    "include-name": list(without_boundaries),
                    "phases": {"coverage": {"enabled": False}},
                }
            ]
            if without_boundaries
            else [],
        }
    )
    # A copy: schemathesis changes the document it is given.
    return schemathesis.openapi.from_dict(copy.deepcopy(document), config=config)


@dataclass(frozen=True, slots=True)
class RunningApp:
    """An app whose lifespan runs in `portal`'s event loop, called through `client` there."""

    portal: BlockingPortal
    client: httpx.AsyncClient
    headers: dict[str, str]
    """Sent with every call (a bearer token)."""

    def call(self, case: Case[Any]) -> httpx.Response:
        """Send `case` exactly as schemathesis' own transport would (encoded by requests)."""
        sent = case.as_transport_kwargs(base_url=_BASE_URL, headers=self.headers)
        wanted = ("method", "url", "headers", "params", "cookies", "json", "data", "files")
        prepared = requests.Request(**{k: sent[k] for k in wanted if k in sent}).prepare()
        request = self.client.build_request(
            prepared.method or "GET",
            prepared.url or _BASE_URL,
            headers=[(name, str(value)) for name, value in prepared.headers.items()],
            content=cast(bytes | str | None, prepared.body),
        )
        return self.portal.call(self.client.send, request)

    def call_and_validate(self, case: Case[Any]) -> httpx.Response:
        """Send `case` and check its answer for `CHECKS`; raises what failed, with a curl line."""
        response = self.call(case)
        case.validate_response(response, headers=self.headers)
        return response


@contextmanager
def running(app: Any, *, headers: dict[str, str]) -> Iterator[RunningApp]:
    """`app` started (its lifespan) in a thread of its own until the block ends."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with start_blocking_portal() as portal:
        lifespan = portal.call(_lifespan_manager, app)
        client = httpx.AsyncClient(transport=transport, base_url=_BASE_URL)
        with portal.wrap_async_context_manager(lifespan):
            try:
                yield RunningApp(portal=portal, client=client, headers=headers)
            finally:
                portal.call(client.aclose)


async def _lifespan_manager(app: Any) -> LifespanManager:
    # Made in the loop it runs in: it picks its concurrency backend from there.
    return LifespanManager(app, startup_timeout=90, shutdown_timeout=30)
