"""The AsyncAPI document: valid, committed as generated, served, and true to the subscriptions."""

from pathlib import Path

from crm_common.asyncapi import drift, problems
from crm_common.testing.asyncapi import assert_served_as_declared
from crm_events.registry import CONTRACTS
from support_ticket import worker
from support_ticket.config import Settings
from support_ticket.main import create_app

COMMITTED = Path(__file__).resolve().parents[1] / "asyncapi.json"


def test_document_is_valid():
    assert problems(worker.asyncapi(), contracts=CONTRACTS) == []


def test_committed_document_is_current():
    assert drift(worker.asyncapi(), COMMITTED) == []


async def test_app_serves_it_and_subscribes_as_declared():
    settings = Settings(jwt_public_key="unused")
    await assert_served_as_declared(
        create_app(settings), worker.asyncapi(settings), worker.events(settings)
    )
