"""The PATCH of a customer's tags and traits: it touches the customer too (a new version and
`crm.customer.updated`) and refuses erased and merged customers."""

from datetime import datetime
from typing import Any

from crm_common.envelope import CloudEvent
from crm_common.problems import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes import repository, rules
from customer_profile.attributes.exceptions import InvalidAttributes
from customer_profile.attributes.models import CustomerAttributes
from customer_profile.attributes.schemas import AttributesRead, CustomerPatch
from customer_profile.customers import events as customer_events
from customer_profile.customers import repository as customers
from customer_profile.customers import service as customer_service
from customer_profile.customers.events import Attributes
from customer_profile.privacy import repository as privacy
from customer_profile.privacy.exceptions import CustomerGone, MergedIntoAnother


async def patch_customer(
    *, session: AsyncSession, customer_id: str, patch: CustomerPatch, now: datetime
) -> tuple[AttributesRead, list[CloudEvent[Any]]]:
    """Apply `patch` to the customer's traits and tags; when anything changed the customer gets
    a new version and `crm.customer.updated` is owed (returned, not staged). Refused for an
    unknown (404), erased (410) or merged (409, naming the survivor) customer, and when the
    result breaks a bound (422 naming `traits` or `tags`)."""
    customer = await customers.lock_customer(session=session, customer_id=customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id}")
    erasure = await privacy.get_erasure(session=session, customer_id=customer_id)
    if erasure is not None:
        raise CustomerGone(customer_id, erasure.erased_at)
    if customer.merged_into is not None:
        survivor = await customer_service.survivor_of(session=session, customer_id=customer_id)
        raise MergedIntoAnother(customer_id, survivor, action="change the tags and traits of")

    stored = await repository.get_attributes(session=session, customer_id=customer_id)
    traits_before: dict[str, Any] = dict(stored.traits) if stored is not None else {}
    traits = traits_before
    if "traits" in patch.model_fields_set:
        traits = {} if patch.traits is None else rules.merge_patch(traits_before, patch.traits)
        size = rules.traits_size(traits)
        # A merge may leave traits above the bound; a patch that makes them smaller still goes.
        if size > rules.TRAITS_MAX_BYTES and size > rules.traits_size(traits_before):
            raise InvalidAttributes(
                "traits",
                f"traits take at most {rules.TRAITS_MAX_BYTES} bytes as compact JSON; "
                f"this patch makes them {size}",
            )
    traits_changed = rules.canonical(traits) != rules.canonical(traits_before)

    current = [
        row.tag for row in await repository.tags_of(session=session, customer_id=customer_id)
    ]
    change = rules.tag_change(current)
    if patch.tags is not None:
        change = rules.tag_change(
            current, set_to=patch.tags.set, add=patch.tags.add, remove=patch.tags.remove
        )
        count = len(current) + len(change.add) - len(change.remove)
        if change.add and count > rules.TAGS_MAX:
            raise InvalidAttributes(
                "tags", f"a customer has at most {rules.TAGS_MAX} tags; this patch makes {count}"
            )
    await repository.mark_explicit(
        session=session, customer_id=customer_id, tags=change.keep_explicit
    )

    changed = traits_changed or not change.empty
    if changed:
        await repository.remove_tags(session=session, customer_id=customer_id, tags=change.remove)
        await repository.add_tags(session=session, customer_id=customer_id, tags=change.add, at=now)
        row = stored or CustomerAttributes(customer_id=customer_id, traits={}, updated_at=now)
        if traits_changed:
            row.traits = traits
            row.traits_updated_at = now
        row.updated_at = now
        repository.save_attributes(session=session, attributes=row)
        customer.version += 1
        customer.updated_at = now
    tags = sorted((set(current) - change.remove) | change.add)
    outgoing: list[CloudEvent[Any]] = []
    if changed:
        identities = await customers.identities_of(session=session, customer_id=customer_id)
        attributes = Attributes(tags=tags, traits=traits)
        outgoing.append(customer_events.updated(customer, identities, attributes=attributes))
    read = AttributesRead(
        customer_id=customer_id,
        tags=tags,
        traits=traits,
        version=customer.version,
        updated_at=customer.updated_at,
        changed=changed,
    )
    return read, outgoing
