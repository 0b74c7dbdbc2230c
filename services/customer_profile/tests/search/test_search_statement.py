"""The search statement on real PostgreSQL: it audits the customers of the page (not the one
after it) in its own transaction, and plans a search of two filters or more for its values
without leaving that setting on the connection."""

from datetime import UTC, datetime

import pytest
from crm_common.db import transaction
from customer_profile.attributes.models import CustomerTag
from customer_profile.customers.models import Customer
from customer_profile.privacy.audit import Shown
from customer_profile.search import repository
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SHOWN = Shown(actor="agent@example.com", action="customer.search", at=NOW)


async def _customers(sessions, count: int) -> list[str]:
    ids = [f"c-{number:03d}" for number in range(count)]
    async with transaction(sessions) as session:
        session.add_all(Customer(customer_id=i, created_at=NOW, updated_at=NOW) for i in ids)
    async with transaction(sessions) as session:
        session.add_all(
            CustomerTag(tag=tag, customer_id=i, added_at=NOW) for i in ids for tag in ("a", "b")
        )
    return ids


async def _audited(sessions) -> list[tuple[str, str, str, datetime]]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT actor, action, customer_id, at FROM audit_log ORDER BY customer_id")
        )
        return [tuple(row) for row in rows]


async def test_the_page_is_audited_and_committed_by_the_statement(sessions) -> None:
    ids = await _customers(sessions, 5)
    async with sessions() as session:
        rows = await repository.search_page(
            session=session,
            identities=[],
            terms=[],
            tags=["a"],
            stage=None,
            after=None,
            limit=3,
            shown=SHOWN,
        )
        # Committed already, while this session is still open and has not committed anything.
        audited = await _audited(sessions)
    assert [row.customer_id for row in rows] == ids[:4]  # the fourth tells there is more
    assert audited == [("agent@example.com", "customer.search", i, NOW) for i in ids[:3]]
    assert [(row.tags, row.traits) for row in rows] == [(["a", "b"], None)] * 4


async def test_an_empty_page_audits_nobody(sessions) -> None:
    await _customers(sessions, 2)
    async with sessions() as session:
        rows = await repository.search_page(
            session=session,
            identities=[],
            terms=[],
            tags=["a", "nobody-has-it"],
            stage=None,
            after=None,
            limit=50,
            shown=SHOWN,
        )
    assert rows == []
    assert await _audited(sessions) == []


async def test_custom_plans_are_for_searches_of_two_filters_and_their_statement_only(
    sessions,
) -> None:
    ids = await _customers(sessions, 3)
    engine = sessions.kw["bind"]
    sent: list[str] = []

    def record(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for tags in (["a"], ["a", "b"]):
            sent.clear()
            for _ in range(7):  # past the five executions after which a plan may be kept
                async with sessions() as session:
                    rows = await repository.search_page(
                        session=session,
                        identities=[],
                        terms=[],
                        tags=tags,
                        stage=None,
                        after=ids[0],
                        limit=50,
                        shown=SHOWN,
                    )
                assert [row.customer_id for row in rows] == ids[1:]
            expected = [repository._CUSTOM_PLANS, repository._DEFAULT_PLANS] * 7
            assert [s for s in sent if "plan_cache_mode" in s] == (expected if tags[1:] else [])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    async with engine.connect() as connection:  # the pool's only connection used so far
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "auto"


async def test_a_combined_search_that_fails_still_leaves_its_connection_planning_as_usual(
    sessions,
) -> None:
    engine = sessions.kw["bind"]
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="LIMIT must not be negative"):
            await repository.search_page(
                session=session,
                identities=[],
                terms=[],
                tags=["a", "b"],
                stage=None,
                after=None,
                limit=-2,
                shown=SHOWN,
            )
    async with engine.connect() as connection:  # the pool's only connection used so far
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "auto"
