"""Consents to the `crm.customer.consent_changed` contract."""

from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.customer import (
    CUSTOMER_CONSENT_CHANGED,
    ConsentChannel,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    CustomerConsentChanged,
)

from customer_profile.consents.models import CustomerConsent

SOURCE = "customer-profile"


def consent_changed(
    consent: CustomerConsent, *, status: ConsentStatus | None = None
) -> CloudEvent[Any]:
    """The event announcing `consent` (or, with `status`, that state replacing it)."""
    data = CustomerConsentChanged(
        customer_id=consent.customer_id,
        channel=ConsentChannel(consent.channel),
        purpose=ConsentPurpose(consent.purpose),
        status=status or ConsentStatus(consent.status),
        source=ConsentSource(consent.source),
        changed_at=consent.changed_at,
        proof=dict(consent.proof or {}),
    )
    return CUSTOMER_CONSENT_CHANGED.event(data, source=SOURCE)
