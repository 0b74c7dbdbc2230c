"""Shop customer accounts (`shop.customer.upserted` on `shop.activity.v1`) into customers.

Each account revision goes through the contact ingestion: a customer is created (a prospect
until an order comes) or updated, its identities linked, customers merged. The account's
`accepts_marketing` is an explicit email marketing decision from the source `shop`, taken at
`marketing_consent_at` (else the account's `updated_at`): it wins over order flags, and an `api`
or `import` decision stands against it when newer. The account's addresses become the
customer's (the addresses package), replacing what an earlier revision listed. A revision older
than the one applied last for the same shop reference changes nothing; each event applies once
(its id is claimed).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.idempotency import first_delivery
from crm_common.outbox import add_event
from crm_common.problems import ProblemError
from crm_events.customer import ConsentSource
from crm_events.shop_activity import SHOP_CUSTOMER_UPSERTED, ShopCustomerUpserted
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.addresses import service as addresses
from customer_profile.contacts import repository
from customer_profile.contacts.exceptions import NoUsableContact
from customer_profile.contacts.schemas import Contact, Origin
from customer_profile.contacts.service import ingest_contact
from customer_profile.customers.clock import MonotonicClock
from customer_profile.customers.identities import normalise_email
from customer_profile.customers.policy import DEFAULT_POLICY, IdentityPolicy
from customer_profile.pii import keyed_digest

CONSUMER = "customer-profile.shop-accounts"
ACCOUNT_DIGEST_PURPOSE = "shop-account"
DUPLICATE = "duplicate"
STALE = "stale"
REJECTED = "rejected"

ACCOUNT_EVENTS = Counter(
    "crm_shop_account_events_total",
    "shop.customer.upserted events applied to customers, by outcome",
    ["outcome"],
)


async def apply_accounts(
    *,
    session: AsyncSession,
    events: Sequence[CloudEvent[dict[str, Any]]],
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> dict[int, str]:
    """Apply the `shop.customer.upserted` events among `events` in the caller's transaction,
    in order, each in a savepoint of its own; other types are left alone. Returns the positions
    rejected, with why (not claimed: a redrive applies them)."""
    clock = MonotonicClock()
    rejected: dict[int, str] = {}
    for position, event in enumerate(events):
        if event.type != SHOP_CUSTOMER_UPSERTED.type:
            continue
        try:
            account = ShopCustomerUpserted.model_validate(event.data)
        except ValidationError as error:
            rejected[position] = f"data: {error}"
            ACCOUNT_EVENTS.labels(REJECTED).inc()
            continue
        try:
            async with session.begin_nested():
                outcome = await apply_account(
                    session=session,
                    event=event,
                    account=account,
                    now=clock(),
                    customers_topic=customers_topic,
                    policy=policy,
                )
        except NoUsableContact as error:
            rejected[position] = str(error)
            outcome = REJECTED
        except ProblemError as error:
            # Tags or traits beyond their bounds, or a customer that cannot be changed.
            rejected[position] = error.detail
            outcome = REJECTED
        ACCOUNT_EVENTS.labels(outcome).inc()
    return rejected


async def apply_account(
    *,
    session: AsyncSession,
    event: CloudEvent[dict[str, Any]],
    account: ShopCustomerUpserted,
    now: datetime,
    customers_topic: str,
    policy: IdentityPolicy = DEFAULT_POLICY,
) -> str:
    """Apply one account revision, staging the customer events owed; returns the outcome."""
    if not await first_delivery(session, consumer=CONSUMER, event_id=event.id):
        return DUPLICATE
    digest = account_digest(account)
    applied = await repository.applied_revision(session=session, account_digest=digest)
    if applied is not None and account.updated_at < applied:
        return STALE
    contact = Contact(
        email=account.customer.email,
        phone=account.customer.phone,
        first_name=account.customer.first_name,
        last_name=account.customer.last_name,
        store_id=account.store_id,
        external_id=account.customer.external_id,
        region=next((a.country for a in account.addresses if a.country), None),
        accepts_marketing=account.accepts_marketing,
        marketing_consent_at=account.marketing_consent_at,
        tags=tuple(account.tags),
    )
    origin = Origin(
        consent_source=ConsentSource.SHOP,
        decided_at=account.updated_at,
        proof={"store_id": account.store_id, "event_id": event.id, "source": event.source},
    )
    ingested = await ingest_contact(
        session=session, contact=contact, origin=origin, now=now, policy=policy
    )
    await repository.save_revision(
        session=session, account_digest=digest, updated_at=account.updated_at, now=now
    )
    await addresses.record_account(
        session=session,
        account_digest=digest,
        customer_id=ingested.customer_id,
        addresses=account.addresses,
        seen_at=account.updated_at,
    )
    for outgoing in ingested.events:
        add_event(session, topic=customers_topic, key=outgoing.subject, event=outgoing)
    return ingested.outcome.value


def account_digest(account: ShopCustomerUpserted) -> str:
    """What identifies the account at its shop, as shops key it: the customer id, else the
    email (normalised when valid), else the phone."""
    customer = account.customer
    if customer.external_id is not None:
        kind, value = "id", customer.external_id
    elif customer.email is not None:
        kind, value = "email", normalise_email(customer.email) or customer.email.strip().lower()
    else:
        kind, value = "phone", "".join((customer.phone or "").split())
    return keyed_digest(ACCOUNT_DIGEST_PURPOSE, "\x1f".join((account.store_id, kind, value)))
