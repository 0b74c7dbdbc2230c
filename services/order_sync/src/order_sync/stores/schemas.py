from datetime import datetime
from enum import StrEnum
from typing import Annotated

import phonenumbers
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
    name: str = Field(min_length=1, max_length=200)
    currency: Currency
    country: Annotated[OptionalCountry, AfterValidator(_known_region)] = None
    webhook_secret: SecretStr | None = Field(default=None, min_length=1)


class StoreRead(BaseModel):
    """A store as the API shows it: the webhook secret itself is never returned."""

    store_id: str
    platform: Platform
    name: str
    currency: str
    country: str | None
    webhook_secret_set: bool
    created_at: datetime
