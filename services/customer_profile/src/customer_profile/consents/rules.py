"""Which consent decision wins, without a database.

Explicit decisions (sources `api`, `import`, `shop`) always win over an order's marketing flag
(source `order`): a shop repeats its stored flag on every order, so a later order must not undo
what the person said through a deliberate channel. Among explicit decisions the newest (by the
time the person decided) wins, a tie going to the one recorded last; among order flags the newest
order wins. An unticked box on an order is no decision: it withdraws only a grant that an earlier
order gave.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_events.customer import ConsentSource, ConsentStatus

EXPLICIT_SOURCES = frozenset({ConsentSource.API, ConsentSource.IMPORT, ConsentSource.SHOP})


@dataclass(frozen=True, slots=True)
class Decision:
    status: ConsentStatus
    source: ConsentSource
    changed_at: datetime


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """The same status from the same source already holds (or there is nothing to withdraw)."""
    OVERRIDDEN = "overridden"
    """A decision that wins over this one is already in force."""


def decide(current: Decision | None, incoming: Decision) -> Outcome:
    """Whether `incoming` replaces the decision in force, `current`."""
    from_order = incoming.source is ConsentSource.ORDER
    if current is None:
        if from_order and incoming.status is ConsentStatus.WITHDRAWN:
            return Outcome.UNCHANGED
        return Outcome.APPLIED
    if (current.status, current.source) == (incoming.status, incoming.source):
        return Outcome.UNCHANGED
    current_from_order = current.source is ConsentSource.ORDER
    if from_order:
        if not current_from_order:
            return Outcome.OVERRIDDEN
        return Outcome.APPLIED if incoming.changed_at > current.changed_at else Outcome.OVERRIDDEN
    if current_from_order:
        return Outcome.APPLIED
    return Outcome.APPLIED if incoming.changed_at >= current.changed_at else Outcome.OVERRIDDEN
