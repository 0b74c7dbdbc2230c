"""The whole HTTP API fuzzed with schemathesis against the real app (a Mongo database and topics
of its own): the document's examples, boundary values and drawn valid and invalid requests on
every operation. Every answer must be documented (status, content type, body, headers), none
a 5xx, every error a problem+json document whose `status` is the HTTP status."""

from collections.abc import Iterator

import pytest
import schemathesis
from crm_common.auth import issue_token
from crm_common.testing.fuzz import RunningApp, openapi_schema, running
from schemathesis import Case
from support_ticket.config import Settings
from support_ticket.main import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The document of an app that never starts (the same code as the one tested, whose equality
# `test_the_document_fuzzed_is_the_apps` checks): `parametrize` needs it at import.
_OFFLINE = Settings(
    mongodb_url="mongodb://127.0.0.1:1/",
    mongodb_database="none",
    kafka_bootstrap_servers="127.0.0.1:1",
    jwt_public_key="(none: the document only)",
)
# A raw mail is text: drawn as a string from its schema, like text/plain.
schemathesis.serializer.alias(["message/rfc822"], "text/plain")
DOCUMENT = create_app(_OFFLINE).openapi()
schema = openapi_schema(DOCUMENT, max_examples=100)


@pytest.fixture(scope="module")
def support_ticket(module_settings: Settings, jwt_keys: tuple[str, str]) -> Iterator[RunningApp]:
    token = issue_token(jwt_keys[0], subject="fuzz@support-ticket", roles=["admin"])
    with running(create_app(module_settings), headers={"Authorization": f"Bearer {token}"}) as app:
        yield app


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Case, support_ticket: RunningApp) -> None:
    support_ticket.call_and_validate(case)


def test_the_document_fuzzed_is_the_apps(support_ticket: RunningApp) -> None:
    served = support_ticket.portal.call(support_ticket.client.get, "/openapi.json")
    assert served.json() == DOCUMENT
