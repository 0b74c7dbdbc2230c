"""The audit of personal data read by people: who, what, which customer, when; never the data."""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.privacy import repository
from customer_profile.privacy.models import AuditEntry, CustomerErasure

READ = "customer.read"
LOOKUP = "customer.lookup"
CONSENTS_READ = "consents.read"
EXPORT = "customer.export"
ERASE = "customer.erase"


def record(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    customer_ids: Sequence[str],
    now: datetime | None = None,
) -> None:
    """One audit entry per customer whose personal data `actor` is shown (or erases)."""
    at = now or datetime.now(UTC)
    repository.add_audit_entries(
        session=session,
        entries=[
            AuditEntry(at=at, actor=actor, action=action, customer_id=customer_id)
            for customer_id in dict.fromkeys(customer_ids)
        ],
    )


async def record_shown(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    customer_ids: Sequence[str],
    now: datetime | None = None,
) -> None:
    """`record` for a read that shows many customers at once (a search page): the same entries,
    written in one statement."""
    await repository.insert_audit_entries(
        session=session,
        at=now or datetime.now(UTC),
        actor=actor,
        action=action,
        customer_ids=list(dict.fromkeys(customer_ids)),
    )


async def record_read(
    *, session: AsyncSession, actor: str, action: str, customer_id: str
) -> CustomerErasure | None:
    """Audit a read of one customer; returns the customer's erasure when there is one."""
    record(session=session, actor=actor, action=action, customer_ids=[customer_id])
    return await repository.get_erasure(session=session, customer_id=customer_id)
