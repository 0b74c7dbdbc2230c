"""When two addresses are the same place: compared after normalising each part.

Every part is case-folded, its accents dropped (NFKD), its punctuation turned into spaces and its
spaces collapsed; the postal code also loses its spaces (`SW1A 1AA` = `sw1a1aa`); the country is
its ISO code. The recipient's name is not part of the comparison: a parcel for `A. Lee` and one
for `Ann Lee` went to the same address (the profile shows the newest form). Abbreviations are not
expanded (`St` is not `Street`).
"""

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from customer_profile.pii import keyed_digest

PURPOSE = "address"
PARTS = ("line1", "line2", "city", "region", "postal_code", "country")
PLACE = ("line1", "line2", "city", "postal_code")
"""An address needs one of these: a country (or region) alone is where, not an address."""
_PUNCTUATION = re.compile(r"[\W_]+")


def normalise_part(value: str | None) -> str:
    if not value:
        return ""
    folded = unicodedata.normalize("NFKD", value.casefold())
    bare = "".join(char for char in folded if not unicodedata.combining(char))
    return " ".join(_PUNCTUATION.sub(" ", bare).split())


def comparable(address: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The normalised parts of `address`; None when it names no place (no street, city or
    postal code)."""
    parts = {name: normalise_part(address.get(name)) for name in PARTS}
    parts["postal_code"] = parts["postal_code"].replace(" ", "")
    if not any(parts[name] for name in PLACE):
        return None
    return tuple(parts[name] for name in PARTS)


def fingerprint(parts: tuple[str, ...]) -> str:
    return keyed_digest(PURPOSE, "\x1f".join(parts))
