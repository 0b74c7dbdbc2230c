"""Dependencies of the consent and privacy routes."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from crm_common.access import CurrentPrincipal
from crm_common.auth import Principal
from crm_common.db import transaction
from fastapi import Depends, Request

from customer_profile.config import Settings
from customer_profile.deps import SessionsDep
from customer_profile.privacy import audit
from customer_profile.privacy.exceptions import CustomerGone


async def get_customers_topic(request: Request) -> str:
    settings = request.app.state.runtime.settings
    if not isinstance(settings, Settings):
        raise TypeError("customer-profile runs on its own Settings")
    return settings.customers_topic


CustomersTopic = Annotated[str, Depends(get_customers_topic)]


def personal_data_read(action: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency for a route showing one customer's personal data to a person (admitted by
    the access matrix before): the read is audited first (committed even when the read then
    fails), and an erased customer answers 410."""

    async def dependency(
        customer_id: str, sessions: SessionsDep, principal: CurrentPrincipal
    ) -> Principal:
        async with transaction(sessions) as session:
            erasure = await audit.record_read(
                session=session, actor=principal.subject, action=action, customer_id=customer_id
            )
        if erasure is not None:
            raise CustomerGone(customer_id, erasure.erased_at)
        return principal

    return dependency
