"""Identity keys: the normalised email, E.164 phone and shop reference that point at a customer."""

from dataclasses import dataclass

import phonenumbers
from crm_events.customer import IdentityKind
from crm_events.order import OrderSnapshot
from email_validator import EmailNotValidError, validate_email

# Resolution tries the keys in this order: an email names a person more reliably than a phone
# (shared by households), and a shop's customer id only within that shop.
PRIORITY: tuple[IdentityKind, ...] = (
    IdentityKind.EMAIL,
    IdentityKind.PHONE,
    IdentityKind.STORE_REF,
)


@dataclass(frozen=True, slots=True)
class IdentityKey:
    """One key; `store_id` is set for a store_ref only (email and phone are global)."""

    kind: IdentityKind
    value: str
    store_id: str | None = None

    @property
    def rank(self) -> int:
        return PRIORITY.index(self.kind)


def normalise_email(raw: str | None) -> str | None:
    """The address trimmed, checked and lower-cased; None when absent or invalid."""
    if raw is None or not raw.strip():
        return None
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    # Mailbox names are case-sensitive in theory, but shops and people treat them as not.
    return checked.normalized.lower()


def normalise_phone(raw: str | None, *, region: str | None = None) -> str | None:
    """The number in E.164 when it is a valid one; without `region`, only `+` numbers parse."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_region(order: OrderSnapshot) -> str | None:
    """Where a local phone number of this order is dialled from: the shipping country, else the
    billing country, else the store's own."""
    for address in (order.shipping_address, order.billing_address):
        if address is not None and address.country:
            return address.country
    return order.store_country


def order_identity_keys(order: OrderSnapshot) -> list[IdentityKey]:
    """Every valid identity of the order's buyer, highest priority first."""
    customer = order.customer
    keys: list[IdentityKey] = []
    email = normalise_email(customer.email)
    if email is not None:
        keys.append(IdentityKey(IdentityKind.EMAIL, email))
    phone = normalise_phone(customer.phone, region=phone_region(order))
    if phone is not None:
        keys.append(IdentityKey(IdentityKind.PHONE, phone))
    if customer.external_id is not None:
        keys.append(IdentityKey(IdentityKind.STORE_REF, customer.external_id, order.store_id))
    return keys


def resolve(keys: list[IdentityKey], owners: dict[IdentityKey, str]) -> str | None:
    """The customer owning the highest-priority key, or None when no key is known yet.

    When keys point at different customers the highest-priority one wins; the others stay
    with their own customer until the two are merged.
    """
    for key in sorted(keys, key=lambda k: k.rank):
        owner = owners.get(key)
        if owner is not None:
            return owner
    return None
