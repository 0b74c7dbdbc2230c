"""The whole HTTP API fuzzed with schemathesis against the real app (a database and topics of
its own): the document's examples, boundary values and drawn valid and invalid requests on
every operation. Every answer must be documented (status, content type, body, headers), none
a 5xx, every error a problem+json document whose `status` is the HTTP status."""

import base64
from collections.abc import Iterator

import pytest
from crm_common.auth import issue_token
from crm_common.testing.fuzz import RunningApp, openapi_schema, running
from customer_profile.config import Settings
from customer_profile.main import create_app
from schemathesis import Case

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_KEY = base64.b64encode(b"document-only-key-document-only!").decode()
# The document of an app that never starts (the same code as the one tested, whose equality
# `test_the_document_fuzzed_is_the_apps` checks): `parametrize` needs it at import.
_OFFLINE = Settings(
    database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
    kafka_bootstrap_servers="127.0.0.1:1",
    jwt_public_key="(none: the document only)",
    pii_keys={"offline": _KEY},  # type: ignore[dict-item]
    pii_active_key="offline",
    pii_lookup_key=_KEY,  # type: ignore[arg-type]
)
DOCUMENT = create_app(_OFFLINE).openapi()
schema = openapi_schema(DOCUMENT, max_examples=50)


@pytest.fixture(scope="module")
def customer_profile(module_settings: Settings, jwt_keys: tuple[str, str]) -> Iterator[RunningApp]:
    token = issue_token(jwt_keys[0], subject="fuzz@customer-profile", roles=["admin"])
    with running(create_app(module_settings), headers={"Authorization": f"Bearer {token}"}) as app:
        yield app


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Case, customer_profile: RunningApp) -> None:
    customer_profile.call_and_validate(case)


def test_the_document_fuzzed_is_the_apps(customer_profile: RunningApp) -> None:
    served = customer_profile.portal.call(customer_profile.client.get, "/openapi.json")
    assert served.json() == DOCUMENT
