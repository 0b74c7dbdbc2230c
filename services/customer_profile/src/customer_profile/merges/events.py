"""Merges to the `crm.customer.merged` and `crm.customer.unmerged` contracts."""

from collections.abc import Sequence
from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.customer import CUSTOMER_MERGED, CUSTOMER_UNMERGED, CustomerMerged, CustomerUnmerged

from customer_profile.customers.events import SOURCE
from customer_profile.customers.identities import IdentityKey
from customer_profile.merges.models import MergeLogEntry
from customer_profile.merges.snapshots import contract_identity


def merged(entry: MergeLogEntry, identity: IdentityKey | None) -> CloudEvent[Any]:
    data = CustomerMerged(
        merge_id=entry.merge_id,
        survivor_id=entry.survivor_id,
        merged_id=entry.merged_id,
        merged_at=entry.at,
        reason=entry.reason,
        identity=contract_identity(identity) if identity is not None else None,
    )
    return CUSTOMER_MERGED.event(data, source=SOURCE)


def unmerged(
    undo: MergeLogEntry, identities: Sequence[IdentityKey], order_ids: Sequence[str]
) -> CloudEvent[Any]:
    data = CustomerUnmerged(
        merge_id=undo.merge_id,
        survivor_id=undo.survivor_id,
        merged_id=undo.merged_id,
        unmerged_at=undo.at,
        identities=[contract_identity(key) for key in identities],
        order_ids=list(order_ids),
    )
    return CUSTOMER_UNMERGED.event(data, source=SOURCE)
