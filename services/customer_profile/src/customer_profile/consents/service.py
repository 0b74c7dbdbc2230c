"""The consent rules: record a decision under the precedence rules, log every change, and carry
consents across merges."""

from datetime import datetime
from typing import Any, NamedTuple

from crm_common.envelope import CloudEvent
from crm_events.customer import ConsentChannel, ConsentPurpose, ConsentSource, ConsentStatus
from crm_events.order import OrderSnapshot
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.consents import events, repository
from customer_profile.consents.models import ConsentLogEntry, CustomerConsent
from customer_profile.consents.rules import Decision, Outcome, decide

MERGE = "merge"
UNMERGE = "unmerge"


class Recorded(NamedTuple):
    outcome: Outcome
    consent: CustomerConsent | None
    """The decision in force afterwards (None when nothing was ever recorded)."""
    events: list[CloudEvent[Any]]


class ConsentsView(NamedTuple):
    consents: list[CustomerConsent]
    log: list[ConsentLogEntry]


def decision_of(consent: CustomerConsent | None) -> Decision | None:
    if consent is None:
        return None
    status, source = ConsentStatus(consent.status), ConsentSource(consent.source)
    return Decision(status, source, consent.changed_at)


async def record_decision(
    *,
    session: AsyncSession,
    customer_id: str,
    channel: ConsentChannel,
    purpose: ConsentPurpose,
    decision: Decision,
    proof: dict[str, str],
    now: datetime,
    merge_id: str | None = None,
    reason: str | None = None,
    consentless: set[str] | None = None,
) -> Recorded:
    """Apply `decision` when it wins over the one in force; every applied change is logged and
    announced. The caller holds the customer's row lock; `consentless`, when it has it, holds
    customers it knows to have no consent row (kept current)."""
    current = (
        None
        if consentless is not None and customer_id in consentless
        else await repository.get_consent(
            session=session, customer_id=customer_id, channel=channel.value, purpose=purpose.value
        )
    )
    outcome = decide(decision_of(current), decision)
    if outcome is not Outcome.APPLIED:
        return Recorded(outcome, current, [])
    consent = current or CustomerConsent(
        customer_id=customer_id,
        channel=channel.value,
        purpose=purpose.value,
        status=decision.status.value,
        source=decision.source.value,
        changed_at=decision.changed_at,
        recorded_at=now,
    )
    _set(consent, decision, proof=proof, now=now)
    repository.save_consent(session=session, consent=consent)
    if consentless is not None:
        consentless.discard(customer_id)
    _log(session, consent, merge_id=merge_id, reason=reason)
    return Recorded(outcome, consent, [events.consent_changed(consent)])


async def apply_order(
    *,
    session: AsyncSession,
    customer_id: str,
    order: OrderSnapshot,
    now: datetime,
    consentless: set[str],
) -> tuple[list[CloudEvent[Any]], bool]:
    """Honour the order's `accepts_marketing` as an email marketing decision with the order as
    proof (`consentless` as `record_decision` takes it); returns the events owed and whether
    email marketing is granted afterwards."""
    flag = ConsentStatus.GRANTED if order.customer.accepts_marketing else ConsentStatus.WITHDRAWN
    recorded = await record_decision(
        session=session,
        customer_id=customer_id,
        channel=ConsentChannel.EMAIL,
        purpose=ConsentPurpose.MARKETING,
        decision=Decision(flag, ConsentSource.ORDER, order.updated_at or order.placed_at),
        proof={
            "order_id": order.order_id,
            "store_id": order.store_id,
            "order_external_id": order.external_id,
        },
        now=now,
        consentless=consentless,
    )
    return recorded.events, _granted(recorded.consent)


async def accepts_email_marketing(*, session: AsyncSession, customer_id: str) -> bool:
    """Whether the customer's email marketing consent is granted: the snapshot's
    `accepts_marketing`."""
    consent = await repository.get_consent(
        session=session,
        customer_id=customer_id,
        channel=ConsentChannel.EMAIL.value,
        purpose=ConsentPurpose.MARKETING.value,
    )
    return _granted(consent)


async def consents_view(*, session: AsyncSession, customer_id: str) -> ConsentsView:
    """The decisions in force and the whole log, oldest entry first."""
    return ConsentsView(
        await repository.consents_of(session=session, customer_id=customer_id),
        await repository.log_of(session=session, customer_id=customer_id),
    )


async def merge_consents(
    *, session: AsyncSession, survivor_id: str, merged_id: str, merge_id: str, now: datetime
) -> list[CloudEvent[Any]]:
    """The union of both customers' consents on the survivor: each decision of the merged
    customer is applied to the survivor under the usual precedence rules, logged with
    `merge_id`. The merged customer keeps its own rows, so an undo has them still."""
    outgoing: list[CloudEvent[Any]] = []
    for theirs in await repository.consents_of(session=session, customer_id=merged_id):
        decision = decision_of(theirs)
        assert decision is not None
        recorded = await record_decision(
            session=session,
            customer_id=survivor_id,
            channel=ConsentChannel(theirs.channel),
            purpose=ConsentPurpose(theirs.purpose),
            decision=decision,
            proof=dict(theirs.proof or {}),
            now=now,
            merge_id=merge_id,
            reason=MERGE,
        )
        outgoing.extend(recorded.events)
    return outgoing


async def unmerge_consents(
    *, session: AsyncSession, survivor_id: str, merge_id: str, now: datetime
) -> list[CloudEvent[Any]]:
    """Undo what `merge_consents` did for `merge_id`: each decision it brought that is still in
    force gives way to the survivor's own earlier one (or to none: the survivor is then announced
    as withdrawn). A decision taken on the survivor after the merge stays."""
    outgoing: list[CloudEvent[Any]] = []
    for consent in await repository.consents_of(session=session, customer_id=survivor_id):
        history = await repository.log_of(
            session=session,
            customer_id=survivor_id,
            channel=consent.channel,
            purpose=consent.purpose,
        )
        if not history or history[-1].merge_id != merge_id or history[-1].reason != MERGE:
            continue
        earlier = [e for e in history[:-1] if e.merge_id != merge_id]
        if earlier:
            before = earlier[-1]
            restored = Decision(
                ConsentStatus(before.status), ConsentSource(before.source), before.changed_at
            )
            _set(consent, restored, proof=dict(before.proof or {}), now=now)
            repository.save_consent(session=session, consent=consent)
            _log(session, consent, merge_id=merge_id, reason=UNMERGE)
            outgoing.append(events.consent_changed(consent))
        else:
            consent.proof = {"merge_id": merge_id}
            consent.changed_at = now
            consent.recorded_at = now
            withdrawn = ConsentStatus.WITHDRAWN
            _log(session, consent, merge_id=merge_id, reason=UNMERGE, status=withdrawn)
            outgoing.append(events.consent_changed(consent, status=withdrawn))
            await repository.delete_consent(session=session, consent=consent)
    return outgoing


def _set(
    consent: CustomerConsent, decision: Decision, *, proof: dict[str, str], now: datetime
) -> None:
    consent.status = decision.status.value
    consent.source = decision.source.value
    consent.changed_at = decision.changed_at
    consent.proof = dict(proof)
    consent.recorded_at = now


def _log(
    session: AsyncSession,
    consent: CustomerConsent,
    *,
    merge_id: str | None,
    reason: str | None,
    status: ConsentStatus | None = None,
) -> None:
    repository.add_log_entry(
        session=session,
        entry=ConsentLogEntry(
            customer_id=consent.customer_id,
            channel=consent.channel,
            purpose=consent.purpose,
            status=(status or ConsentStatus(consent.status)).value,
            source=consent.source,
            changed_at=consent.changed_at,
            proof=dict(consent.proof) if consent.proof is not None else None,
            recorded_at=consent.recorded_at,
            merge_id=merge_id,
            reason=reason,
        ),
    )


def _granted(consent: CustomerConsent | None) -> bool:
    return consent is not None and consent.status == ConsentStatus.GRANTED.value
