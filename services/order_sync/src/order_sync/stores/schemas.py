from datetime import datetime
from enum import StrEnum
from typing import Annotated

import phonenumbers
from crm_common.http import Text, WithoutNul
from crm_events.types import Currency, OptionalCountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

STORE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Platform(StrEnum):
    CUSTOM = "custom"
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


def _known_region(value: str | None) -> str | None:
    # The country is the default region for parsing phone numbers, so it has to be one that
    # libphonenumber knows (every inhabited ISO 3166-1 country is).
    if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value} is not an ISO 3166-1 alpha-2 country with phone numbers")
    return value


class StoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: str = Field(pattern=STORE_ID_PATTERN)
    platform: Platform
    name: Text = Field(min_length=1, max_length=200)
    currency: Currency
    country: Annotated[OptionalCountry, AfterValidator(_known_region)] = None
    webhook_secret: Annotated[SecretStr, WithoutNul] | None = Field(default=None, min_length=1)


class StoreRead(BaseModel):
    """A store as the API shows it: the webhook secret itself is never returned."""

    store_id: str
    platform: Platform
    name: str
    currency: str
    country: str | None
    webhook_secret_set: bool
    created_at: datetime


class LastOrderReceived(BaseModel):
    at: datetime
    """When order-sync stored the change (its clock, not the shop's)."""
    order_id: str
    external_id: str
    channel: str | None
    """`rest`, `kafka`, `import` or `webhook`; null when the path that stored it did not say."""


class OrderCounts(BaseModel):
    total: int
    by_financial_status: dict[str, int]
    """Every financial status, with 0 for those no order is in."""


class WebhookActivity(BaseModel):
    last_received_at: datetime | None
    last_topic: str | None
    last_outcome: str | None
    by_outcome: dict[str, int]
    """Deliveries kept for this store, by outcome (applied, unchanged, ignored, duplicate,
    rejected, failed)."""


class ImportActivity(BaseModel):
    in_progress: int
    """Jobs queued or running."""
    completed: int
    failed: int
    last_finished_at: datetime | None


class SyncErrors(BaseModel):
    rejected_batch_items: int
    """Items of `POST /v1/orders:batch` refused (only those naming this registered store)."""
    last_rejected_batch_item_at: datetime | None
    rejected_import_orders: int
    """Orders refused by this store's imports; their rows are listed by each import job."""
    failed_imports: int
    failed_webhooks: int
    """Authentic deliveries whose payload could not be mapped."""
    rejected_webhooks: int
    """Deliveries refused: bad signature, no secret, wrong platform."""


class SyncStatusRead(BaseModel):
    """What order-sync knows of a store's data flow, as of `as_of`. Not included: events that
    went to shop.orders.v1.dlq (Kafka keeps those, not the database), single POST /v1/orders
    that answered 422 (nothing is stored for them)."""

    store_id: str
    as_of: datetime
    last_order_received: LastOrderReceived | None
    """The store's most recently stored order change (created or updated; a delivery that
    changed nothing is not one)."""
    orders: OrderCounts
    webhooks: WebhookActivity
    imports: ImportActivity
    errors: SyncErrors
