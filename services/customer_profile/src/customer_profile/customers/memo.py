"""What a transaction applying a batch of order events reads once rather than once per event.

`customers.batch` installs a `BatchMemo` on the batch's session; the steps an order goes through
consult it where it is installed and ask the database where it is not (one event per
transaction, the API, imports). Each part holds what every event of the batch would read alike:
facts read once for the batch's own identities and orders before its first event and kept
current by the batch's own writes, or facts about customers this transaction holds row-locked,
which no other transaction can change before the commit (merges, erasures and attribute changes
lock the customers first). So each event still sees what it would see in a transaction of its
own.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from customer_profile.attributes.schemas import Attributes
from customer_profile.customers.identities import IdentityKey
from customer_profile.customers.models import CustomerIdentity
from customer_profile.customers.repository import OrderFacts, key_of
from customer_profile.scoring.incremental import Boundaries, Scored

_KEY = "customer_profile.batch_memo"


@dataclass
class BatchMemo:
    locked: set[str] = field(default_factory=set)
    """The customers this transaction holds row-locked: those the batch's identities and orders
    pointed at when it began, and those it created."""
    keys: set[IdentityKey] = field(default_factory=set)
    """The identities of the batch's orders, whose owners `owners` knows."""
    owners: dict[IdentityKey, str] = field(default_factory=dict)
    """The customer each of `keys` points at (read once the customers were locked)."""
    identities: dict[str, list[CustomerIdentity]] = field(default_factory=dict)
    """Per customer of `locked`: the identities it holds."""
    consentless: set[str] = field(default_factory=set)
    """Customers of `locked` without any consent row."""
    orders_of: dict[str, dict[str, OrderFacts]] = field(default_factory=dict)
    """Per customer of `locked`: its orders by id, as profiles and scores read them."""
    orders: set[str] = field(default_factory=set)
    """Those of the batch's orders that are stored (before the batch, or by it)."""
    partners: dict[str, set[str]] = field(default_factory=dict)
    """Per identity digest of the batch's orders: the partner digests it was seen with (in
    `identity_sightings`, and on the batch's orders so far)."""
    sightings: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """The (identity, partner) sightings the batch made, each with when it first made it: written
    once, at the end of the batch."""
    pending_scope: set[str] = field(default_factory=set)
    """The identity digests any customer of the batch can hold: those of its orders and every one
    held by a customer that one of them, or one of its orders, points at."""
    pending: set[str] = field(default_factory=set)
    """Those of `pending_scope` that pending activity names (expired or not: the nightly job
    drops what expired, and attaching takes only what has not)."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    """Timeline entries (`timeline.repository.entry_row`) not written yet: written together
    before anything else touches the timeline, and at the end of the batch."""
    erasures: dict[str, datetime | None] = field(default_factory=dict)
    """Per customer row-locked by this transaction: when it was erased (None: it was not)."""
    attributes: dict[str, Attributes] = field(default_factory=dict)
    """Per customer row-locked by this transaction: its tags and traits."""
    addresses: dict[str, set[str]] = field(default_factory=dict)
    """Per order of the batch: the kinds of address stored for it."""
    scoring_locked: bool = False
    """Whether this transaction holds the shared scoring lock (held until it ends)."""
    boundaries: dict[tuple[str, str], Boundaries] | None = None
    """The RFM boundaries per (store, currency), read under the scoring lock."""
    rfm: dict[str, dict[str, Scored]] = field(default_factory=dict)
    """Per customer row-locked by this transaction: its RFM rows per store, as they stand."""
    rfm_stored: dict[str, set[str]] = field(default_factory=dict)
    """Per customer of `rfm`: the stores of its rows in the database before the batch."""
    rfm_changed: set[tuple[str, str]] = field(default_factory=set)
    """The (customer, store) rows of `rfm` the batch changed, written at its end."""

    def created(self, customer_id: str) -> None:
        """A customer the batch just created: locked by it, and without RFM rows."""
        self.locked.add(customer_id)
        self.identities[customer_id] = []
        self.orders_of[customer_id] = {}
        self.consentless.add(customer_id)
        self.rfm[customer_id] = {}
        self.rfm_stored[customer_id] = set()

    def merged(self, survivor_id: str, merged_id: str) -> None:
        """`merged_id`'s identities and orders moved to `survivor_id`; its tags and traits may
        follow."""
        for key, owner in self.owners.items():
            if owner == merged_id:
                self.owners[key] = survivor_id
        moved = self.identities.pop(merged_id, None)
        if moved is None or survivor_id not in self.identities:
            self.identities.pop(survivor_id, None)  # read afresh from now on
        else:
            self.identities[survivor_id] += moved
        moved_orders = self.orders_of.pop(merged_id, None)
        if moved_orders is None or survivor_id not in self.orders_of:
            self.orders_of.pop(survivor_id, None)
        else:
            self.orders_of[survivor_id] |= moved_orders
        for customer_id in (survivor_id, merged_id):
            self.attributes.pop(customer_id, None)

    def owners_of(self, keys: Iterable[IdentityKey]) -> dict[IdentityKey, str] | None:
        """The owners of `keys` as `repository.identity_owners` reads them; None when unsure."""
        wanted = set(keys)
        if not wanted <= self.keys:
            return None
        return {key: self.owners[key] for key in wanted if key in self.owners}

    def reread(self, keys: Iterable[IdentityKey], owners: Mapping[IdentityKey, str]) -> None:
        """What the database says now of `keys`' owners."""
        for key in keys:
            if key in owners:
                self.owners[key] = owners[key]
            else:
                self.owners.pop(key, None)

    def linked(self, customer_id: str, links: Iterable[CustomerIdentity]) -> None:
        """`links` now point at `customer_id`."""
        for link in links:
            self.owners[key_of(link)] = customer_id
            if customer_id in self.identities:
                self.identities[customer_id].append(link)

    def see(self, pairs: Iterable[tuple[str, str]], at: datetime) -> None:
        """The (identity, partner) digests `pairs` were seen together at `at`."""
        for identity, partner in pairs:
            self.partners[identity].add(partner)
            self.sightings.setdefault((identity, partner), at)

    def nothing_pending(self, digests: Iterable[str]) -> bool:
        """Whether no pending activity names any of `digests` (False when unsure)."""
        wanted = set(digests)
        return wanted <= self.pending_scope and not wanted & self.pending


def install(session: AsyncSession, memo: BatchMemo) -> None:
    session.info[_KEY] = memo


def uninstall(session: AsyncSession) -> None:
    session.info.pop(_KEY, None)


def memo_of(session: AsyncSession) -> BatchMemo | None:
    """The memo of the batch this session applies, if it applies one."""
    found = session.info.get(_KEY)
    return found if isinstance(found, BatchMemo) else None
