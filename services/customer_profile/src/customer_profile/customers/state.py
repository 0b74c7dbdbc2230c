"""What the ingestion of a batch of order events knows about the customers it touches.

`ingest.py` reads it once, before the batch's first event, and hands it to each stage, which
keeps it current with the batch's own writes. Each part holds what every event of the batch
would read alike: facts read once for the batch's own identities and orders, or facts about
customers the batch's transaction holds row-locked, which no other transaction can change
before the commit (merges, erasures and attribute changes lock the customers first). So each
event sees what it would see in a transaction of its own.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from customer_profile.customers.identities import IdentityKey
from customer_profile.customers.models import CustomerIdentity
from customer_profile.customers.repository import OrderFacts, key_of


@dataclass
class CustomerBatch:
    locked: set[str] = field(default_factory=set)
    """The customers this transaction holds row-locked: those the batch's identities and orders
    pointed at when it began, and those it created."""
    keys: set[IdentityKey] = field(default_factory=set)
    """The identities of the batch's orders, whose owners `owners` knows."""
    owners: dict[IdentityKey, str] = field(default_factory=dict)
    """The customer each of `keys` points at (read once the customers were locked)."""
    identities: dict[str, list[CustomerIdentity]] = field(default_factory=dict)
    """Per customer of `locked`: the identities it holds."""
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

    def created(self, customer_id: str) -> None:
        """A customer the batch just created, and so locked by it."""
        self.locked.add(customer_id)
        self.identities[customer_id] = []
        self.orders_of[customer_id] = {}

    def merged(self, survivor_id: str, merged_id: str) -> None:
        """`merged_id`'s identities and orders moved to `survivor_id`."""
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
