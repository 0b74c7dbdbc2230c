"""What the evaluator knows of one customer: a profile document and compact event facts."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Fact:
    """One event of the customer's behaviour, kept to what conditions filter and measure on."""

    name: str
    at: datetime
    skus: tuple[str, ...] = ()
    total: Decimal | None = None
    currency: str | None = None
    store_id: str | None = None

    def values(self, property_: str) -> tuple[Any, ...]:
        """The property's values (an event may have several SKUs; the others have one)."""
        match property_:
            case "sku":
                return self.skus
            case "total":
                return () if self.total is None else (self.total,)
            case "currency":
                return () if self.currency is None else (self.currency,)
            case _:
                return () if self.store_id is None else (self.store_id,)


@dataclass(frozen=True, slots=True)
class CustomerState:
    """`profile`: the customer's fields as trait conditions address them (`email`, `tags`,
    `stats.orders_count`, `traits.<name>`, `consent.<channel>`); `facts` in any order."""

    customer_id: str
    profile: Mapping[str, Any] = field(default_factory=dict)
    facts: Sequence[Fact] = ()
