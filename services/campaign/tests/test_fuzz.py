"""The whole HTTP API fuzzed with schemathesis against the real app (a database and topics of
its own): the document's examples, boundary values and drawn valid and invalid requests on
every operation. Every answer must be documented (status, content type, body, headers), none
a 5xx, every error a problem+json document whose `status` is the HTTP status."""

from collections.abc import Iterator

import pytest
from campaign.config import Settings
from campaign.main import create_app
from crm_common.auth import issue_token
from crm_common.testing.fuzz import RunningApp, openapi_schema, running
from schemathesis import Case

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The document of an app that never starts (the same code as the one tested, whose equality
# `test_the_document_fuzzed_is_the_apps` checks): `parametrize` needs it at import.
_OFFLINE = Settings(
    database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
    kafka_bootstrap_servers="127.0.0.1:1",
    jwt_public_key="(none: the document only)",
)
DOCUMENT = create_app(_OFFLINE).openapi()
# A segment definition is a recursive tree: enumerating its boundary values would take minutes.
schema = openapi_schema(
    DOCUMENT,
    max_examples=100,
    without_boundaries=(
        "POST /v1/segments",
        "POST /v1/segments:preview",
        "PATCH /v1/segments/{segment_id}",
    ),
)


@pytest.fixture(scope="module")
def campaign(module_settings: Settings, jwt_keys: tuple[str, str]) -> Iterator[RunningApp]:
    token = issue_token(jwt_keys[0], subject="fuzz@campaign", roles=["admin"])
    with running(create_app(module_settings), headers={"Authorization": f"Bearer {token}"}) as app:
        yield app


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Case, campaign: RunningApp) -> None:
    campaign.call_and_validate(case)


def test_the_document_fuzzed_is_the_apps(campaign: RunningApp) -> None:
    served = campaign.portal.call(campaign.client.get, "/openapi.json")
    assert served.json() == DOCUMENT
