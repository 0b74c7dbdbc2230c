from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.db import transaction
from crm_common.envelope import CloudEvent
from crm_common.kafka import BatchHandler
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign.segments import events, service
from campaign.segments.events import FactRow


def behaviour_handler(
    sessions: async_sessionmaker[AsyncSession],
    fact_of: Callable[[CloudEvent[dict[str, Any]]], FactRow | None],
    *,
    topic: str,
) -> BatchHandler:
    async def handle(batch: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Store a batch of behaviour as facts and move the memberships it changes, in one
        transaction; returns the events that break their contract, by position."""
        rejected: dict[int, Exception] = {}
        facts: list[FactRow] = []
        for position, event in enumerate(batch):
            try:
                fact = fact_of(event)
            except ValidationError as error:
                rejected[position] = error
                continue
            if fact is not None:
                facts.append(fact)
        if facts:
            async with transaction(sessions) as session:
                await service.apply_facts(
                    session=session, facts=facts, now=datetime.now(UTC), topic=topic
                )
        return rejected

    return handle


def customer_events_handler(
    sessions: async_sessionmaker[AsyncSession], *, topic: str
) -> BatchHandler:
    async def handle(batch: Sequence[CloudEvent[dict[str, Any]]]) -> dict[int, Exception]:
        """Follow profiles, consent, attributions, merges and erasures into segments."""
        rejected: dict[int, Exception] = {}
        changes: list[service.CustomerEvent] = []
        for position, event in enumerate(batch):
            try:
                change = events.customer_change(event)
            except ValidationError as error:
                rejected[position] = error
                continue
            if change is not None:
                changes.append(service.CustomerEvent(event.id, change))
        if changes:
            async with transaction(sessions) as session:
                await service.apply_customer_changes(
                    session=session, events=changes, now=datetime.now(UTC), topic=topic
                )
        return rejected

    return handle


def scheduler(sessions: async_sessionmaker[AsyncSession], *, topic: str) -> Callable[[], Any]:
    async def work() -> None:
        """Move the customers time alone has moved, then advance the backfills and deletions,
        one transaction per page or chunk."""
        while True:
            async with transaction(sessions) as session:
                due = await service.run_due(session=session, now=datetime.now(UTC), topic=topic)
            if due < service.DUE_PER_TRANSACTION:
                break
        while True:
            async with transaction(sessions) as session:
                if not await service.build_step(
                    session=session, now=datetime.now(UTC), topic=topic
                ):
                    break

    return work
