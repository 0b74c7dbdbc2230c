"""The audit of personal data read by people: who, what, which customer, when; never the data."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert
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


@dataclass(frozen=True, slots=True)
class Shown:
    """Who is shown the customers a read finds, as what action, when: the audit of a read that
    writes its entries in the statement that finds the customers (a search page)."""

    actor: str
    action: str
    at: datetime


def shown_entries(*, customer_ids: ColumnElement[str]) -> Insert:
    """The audit entries of a read that shows the customers `customer_ids` selects, one each,
    as an INSERT taking the `Shown` of the read as the parameters `audit_at`, `audit_actor`
    and `audit_action` (`shown_parameters`)."""
    return repository.audit_entries(customer_ids=customer_ids)


def shown_parameters(shown: Shown) -> dict[str, Any]:
    return {"audit_at": shown.at, "audit_actor": shown.actor, "audit_action": shown.action}


async def record_read(
    *, session: AsyncSession, actor: str, action: str, customer_id: str
) -> CustomerErasure | None:
    """Audit a read of one customer; returns the customer's erasure when there is one."""
    record(session=session, actor=actor, action=action, customer_ids=[customer_id])
    return await repository.get_erasure(session=session, customer_id=customer_id)
