"""An import: records read one at a time, applied in chunks, each chunk one transaction.

Each record goes through the contact ingestion (`contacts.service`) in a savepoint of its own,
so a record that fails is rolled back alone and reported; the chunk's others commit together.
Chunks committed stay committed if a later one fails: importing the same file again changes
nothing that was imported (every row then finds its customer as it left it).
"""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice
from uuid import uuid4

from crm_common.db import transaction
from crm_common.outbox import add_event
from crm_common.problems import ProblemError
from crm_events.customer import ConsentSource
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.bulk.parsing import Format, ParsedRow, RowError
from customer_profile.bulk.schemas import ImportReport, RowErrorRead
from customer_profile.contacts.exceptions import NoUsableContact
from customer_profile.contacts.schemas import Origin, Outcome
from customer_profile.contacts.service import ingest_contact
from customer_profile.customers.clock import MonotonicClock
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.customers.resolution import ConcurrentMerge

CHUNK_ROWS = 500
MAX_REPORTED_ERRORS = 1000


async def import_rows(
    *,
    sessions: async_sessionmaker[AsyncSession],
    rows: Iterable[ParsedRow],
    fmt: Format,
    actor: str,
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
    ignored_columns: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportReport:
    """Apply every row, `chunk_rows` to a transaction, staging the customer events owed on
    `customers_topic`; returns the report."""
    import_id = str(uuid4())
    clock = MonotonicClock()
    counts: Counter[str] = Counter()
    errors: list[RowError] = []
    source = iter(rows)
    while chunk := list(islice(source, chunk_rows)):
        async with transaction(sessions) as session:
            for parsed in chunk:
                counts["rows"] += 1
                failure = parsed.errors or await _apply_row(
                    session,
                    parsed,
                    origin=Origin(
                        consent_source=ConsentSource.IMPORT,
                        decided_at=datetime.now(UTC),
                        proof={"import_id": import_id, "row": str(parsed.row), "by": actor},
                        actor=actor,
                    ),
                    now=clock(),
                    topic=customers_topic,
                    policy=policy,
                    counts=counts,
                )
                if failure:
                    counts["failed"] += 1
                    errors.extend(failure)
    return ImportReport(
        import_id=import_id,
        format=fmt.value,
        rows=counts["rows"],
        created=counts[Outcome.CREATED.value],
        updated=counts[Outcome.UPDATED.value],
        linked=counts[Outcome.LINKED.value],
        unchanged=counts[Outcome.UNCHANGED.value],
        failed=counts["failed"],
        merges=counts["merges"],
        suggestions=counts["suggestions"],
        ignored_columns=ignored_columns or [],
        errors=[
            RowErrorRead(row=e.row, field=e.field, reason=e.reason)
            for e in errors[:MAX_REPORTED_ERRORS]
        ],
        errors_truncated=len(errors) > MAX_REPORTED_ERRORS,
    )


async def _apply_row(
    session: AsyncSession,
    parsed: ParsedRow,
    *,
    origin: Origin,
    now: datetime,
    topic: str,
    policy: IdentityPolicy,
    counts: Counter[str],
) -> tuple[RowError, ...]:
    """Ingest one valid row in a savepoint; returns its errors (none when it applied)."""
    assert parsed.contact is not None
    try:
        async with session.begin_nested():
            ingested = await ingest_contact(
                session=session, contact=parsed.contact, origin=origin, now=now, policy=policy
            )
            for event in ingested.events:
                add_event(session, topic=topic, key=event.subject, event=event)
    except NoUsableContact as error:
        return (RowError(parsed.row, "identity", str(error)),)
    except ProblemError as error:
        field = (error.errors or [{}])[0].get("field", "row")
        return (RowError(parsed.row, str(field), error.detail),)
    except ConcurrentMerge:
        reason = "its customers changed while it was applied; import the row again"
        return (RowError(parsed.row, "row", reason),)
    counts[ingested.outcome.value] += 1
    counts["merges"] += ingested.merges
    counts["suggestions"] += ingested.suggestions
    return ()
