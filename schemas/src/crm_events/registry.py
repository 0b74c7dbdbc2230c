"""Every event contract of the suite in one registry, bound to the committed schema files."""

from pathlib import Path

from crm_common.contracts import ContractRegistry
from pydantic import BaseModel

from crm_events.cart import CART_CONTRACTS
from crm_events.customer import CUSTOMER_CONTRACTS
from crm_events.insight import INSIGHT_CONTRACTS
from crm_events.inventory import INVENTORY_CONTRACTS
from crm_events.message import MESSAGE_CONTRACTS
from crm_events.order import ORDER_CONTRACTS
from crm_events.segment import SEGMENT_CONTRACTS
from crm_events.shop import ORDER_UPSERTED
from crm_events.shop_activity import ACTIVITY_CONTRACTS
from crm_events.ticket import TICKET_CONTRACTS

__all__ = ["CONTRACTS", "SCHEMAS_DIR", "locate_schemas_dir", "model_for"]


def locate_schemas_dir() -> Path:
    """`schemas/events` in a source checkout; the copy bundled in the wheel otherwise."""
    package = Path(__file__).resolve().parent
    bundled = package / "_schemas"
    if bundled.is_dir():
        return bundled
    return package.parents[1] / "events"  # schemas/src/crm_events -> schemas/events


SCHEMAS_DIR = locate_schemas_dir()

CONTRACTS = ContractRegistry(SCHEMAS_DIR)
for _contract in (
    ORDER_UPSERTED,
    *ORDER_CONTRACTS,
    *CUSTOMER_CONTRACTS,
    *ACTIVITY_CONTRACTS,
    *CART_CONTRACTS,
    *INVENTORY_CONTRACTS,
    *MESSAGE_CONTRACTS,
    *TICKET_CONTRACTS,
    *SEGMENT_CONTRACTS,
    *INSIGHT_CONTRACTS,
):
    CONTRACTS.register(_contract)


def model_for(event_type: str, version: int | None = None) -> type[BaseModel]:
    """The data model of `event_type` (at its latest version unless `version` is given)."""
    return CONTRACTS.model_for(event_type, version)
