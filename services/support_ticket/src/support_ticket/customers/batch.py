"""A batch of crm.customers.v1 changes as the steps that apply it as applying its events one by
one, in offset order, would.

FerretDB has no multi-document transactions, so nothing is planned from a read of the stored
documents: every write carries its guard in its filter (a version, "not erased", "is merged")
and the server decides. Snapshots go out together in one unordered bulk write, the newest per
customer (its version guard would make it win whatever the order). Snapshots change no
`merged_into` and no `erased`, so a merge, an undo or an erasure may overtake the snapshots
before it unless it names one of their customers (then those are written first). A snapshot of a
customer merged into an erased one, overtaken by the erasure, finds a tombstone and changes
nothing: the tombstone keeps the version it had.
"""

from dataclasses import dataclass, field

from crm_events.customer import CustomerErased, CustomerMerged, CustomerSnapshot, CustomerUnmerged

from support_ticket.customers.events import CustomerChange


@dataclass(frozen=True)
class CustomerEvent:
    event_id: str
    change: CustomerChange


@dataclass
class Snapshots:
    """The newest snapshot per customer, for one bulk write."""

    newest: dict[str, CustomerSnapshot] = field(default_factory=dict)


Step = Snapshots | CustomerEvent
"""Snapshots to write together, or a merge, undo or erasure to apply on its own."""


@dataclass
class CustomerBatch:
    """The state of one batch, handed from stage to stage: its events, the ids applied before
    (redeliveries), then the steps that apply the others."""

    events: list[CustomerEvent]
    applied_before: set[str] = field(default_factory=set)
    steps: list[Step] = field(default_factory=list)

    def new_event_ids(self) -> list[str]:
        """The ids to record once the steps are stored, each once."""
        new = (e.event_id for e in self.events if e.event_id not in self.applied_before)
        return list(dict.fromkeys(new))


def plan(batch: CustomerBatch) -> CustomerBatch:
    """The steps of the batch's new events, in their order."""
    steps: list[Step] = []
    pending = Snapshots()
    seen = set(batch.applied_before)
    for event in batch.events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        change = event.change
        if isinstance(change, CustomerSnapshot):
            held = pending.newest.get(change.customer_id)
            if held is None or held.version < change.version:
                pending.newest[change.customer_id] = change
            continue
        if set(_named(change)) & pending.newest.keys():
            steps.append(pending)
            pending = Snapshots()
        steps.append(event)
    if pending.newest:
        steps.append(pending)
    batch.steps = steps
    return batch


def _named(change: CustomerChange) -> tuple[str, ...]:
    match change:
        case CustomerSnapshot() | CustomerErased():
            return (change.customer_id,)
        case CustomerMerged() | CustomerUnmerged():
            return (change.merged_id, change.survivor_id)
