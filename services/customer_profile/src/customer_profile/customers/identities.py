"""Identity keys: the normalised email, E.164 phone and shop reference that point at a customer."""

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Self

import phonenumbers
from crm_events.customer import IdentityKind
from crm_events.order import OrderSnapshot
from email_validator import EmailNotValidError, validate_email

from customer_profile.pii import keyed_digest

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


# Values shops and checkout forms put where they have no real one. A blocked value is no
# identity at all: it links nobody, whatever its kind (WooCommerce gives guests customer id 0).
DEFAULT_BLOCKED_VALUES: tuple[str, ...] = (
    "null",
    "none",
    "nil",
    "n/a",
    "na",
    "-",
    "0",
    "-1",
    "undefined",
    "unknown",
    "anonymous",
    "guest",
    "test",
    "test@test.com",
    "example@example.com",
    "email@example.com",
    "test@example.com",
    "noemail@noemail.com",
    "none@none.com",
    "null@null.com",
)
DEFAULT_BLOCKED_PATTERNS: tuple[str, ...] = (
    r"no-?reply@.*",
    r"do-?not-?reply@.*",
    r"no-?email@.*",
    r"anonymous@.*",
)
DEFAULT_PHONE_MIN_DIGITS = 6
_SUBSCRIBER_DIGITS = 7


@dataclass(frozen=True, slots=True)
class IdentityGuard:
    """Which normalised values are junk: blocked values and patterns (matched whole, ignoring
    case) for every kind, plus phones whose national number is too short or whose last seven
    digits are one digit repeated or a straight run (1234567, 7654321)."""

    blocked_values: frozenset[str] = frozenset(DEFAULT_BLOCKED_VALUES)
    blocked_patterns: tuple[re.Pattern[str], ...] = field(
        default_factory=lambda: _compile(DEFAULT_BLOCKED_PATTERNS)
    )
    phone_min_digits: int = DEFAULT_PHONE_MIN_DIGITS

    @classmethod
    def of(
        cls,
        *,
        values: Iterable[str] = DEFAULT_BLOCKED_VALUES,
        patterns: Iterable[str] = DEFAULT_BLOCKED_PATTERNS,
        phone_min_digits: int = DEFAULT_PHONE_MIN_DIGITS,
    ) -> Self:
        """A guard from configuration; a pattern that is no valid regex fails here, at start."""
        return cls(
            blocked_values=frozenset(value.strip().lower() for value in values),
            blocked_patterns=_compile(patterns),
            phone_min_digits=phone_min_digits,
        )

    def blocks(self, key: IdentityKey) -> bool:
        """Whether `key` is junk that must never become an identity."""
        value = key.value.strip().lower()
        if value in self.blocked_values:
            return True
        if any(pattern.fullmatch(value) for pattern in self.blocked_patterns):
            return True
        return key.kind is IdentityKind.PHONE and self._junk_phone(key.value)

    def _junk_phone(self, e164: str) -> bool:
        try:
            number = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return True
        digits = phonenumbers.national_significant_number(number)
        if len(digits) < self.phone_min_digits:
            return True
        # What people type to get past a required field: 0000000, 5555555, 1234567, 7654321,
        # often after a real area or mobile prefix (+61 4 1234 5678), so the subscriber part
        # (the last seven digits) is what tells.
        tail = digits[-_SUBSCRIBER_DIGITS:]
        steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(tail)}
        return steps in ({0}, {1}, {9})


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


DEFAULT_GUARD = IdentityGuard()


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


def order_identity_keys(
    order: OrderSnapshot, *, guard: IdentityGuard = DEFAULT_GUARD
) -> list[IdentityKey]:
    """Every valid identity of the order's buyer that `guard` does not block, highest priority
    first. Invalid or blocked values stay on the order (and its event) but identify nobody."""
    customer = order.customer
    keys: list[IdentityKey] = []
    email = normalise_email(customer.email)
    if email is not None:
        keys.append(IdentityKey(IdentityKind.EMAIL, email))
    phone = normalise_phone(customer.phone, region=phone_region(order))
    if phone is not None:
        keys.append(IdentityKey(IdentityKind.PHONE, phone))
    reference = customer.external_id
    if reference is not None and reference.strip():
        keys.append(IdentityKey(IdentityKind.STORE_REF, reference, order.store_id))
    return [key for key in keys if not guard.blocks(key)]


def stronger_partner(keys: Sequence[IdentityKey], key: IdentityKey) -> IdentityKey | None:
    """The highest-priority key of `keys` ranked above `key`: who, as far as the order tells,
    presents `key` (an email for a phone; an email, else a phone, for a store_ref)."""
    stronger = [other for other in keys if other.rank < key.rank]
    return min(stronger, key=lambda other: other.rank) if stronger else None


IDENTITY_DIGEST_PURPOSE = "identity"


def digest(key: IdentityKey) -> str:
    """The keyed digest (HMAC-SHA256 under the lookup key) of `key`: what the store holds in
    place of the value wherever a key is looked up or counted (customer_identities.value,
    identity sightings, merge suggestions, pending activity). Without the key it names no one.

    The migration 0005_pii_encryption computes the same digest; change both together.
    """
    text = "\x1f".join((key.kind.value, key.store_id or "", key.value))
    return keyed_digest(IDENTITY_DIGEST_PURPOSE, text)


def resolve(keys: list[IdentityKey], owners: dict[IdentityKey, str]) -> str | None:
    """The customer owning the highest-priority key, or None when no key is known yet.

    A precedence for reading only: when an order's keys point at different customers,
    attribution merges them (see `resolution.plan_resolution`).
    """
    for key in sorted(keys, key=lambda k: k.rank):
        owner = owners.get(key)
        if owner is not None:
            return owner
    return None
