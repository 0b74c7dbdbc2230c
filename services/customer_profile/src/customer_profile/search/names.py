"""The blind index of names: keyed digests of the prefixes of every word of a customer's first and
last name, so that a name prefix can be searched while the names themselves stay encrypted.

A name is normalised before it is cut into words: case-folded, decomposed (NFKD) with its
accents dropped (`Ångström` -> `angstrom`, `İpek` -> `ipek`), a few letters Unicode does not
decompose spelled out (`ø` -> `o`, `ł` -> `l`, `æ` -> `ae`, `ß` -> `ss`), apostrophes removed
(`O'Brien` -> `obrien`), then split at anything that is not a letter or digit (`Jean-Luc` ->
`jean`, `luc`). Each word gives its prefixes of 1 to `PREFIX_MAX` characters; a query word longer
than that is matched on its first `PREFIX_MAX` characters.

What the index leaks to someone who reads the database without the lookup key: which customers
share a name prefix (equal terms), how long each name word is up to `PREFIX_MAX` (the number of
terms), and, by the frequency of the commonest short terms, probable initials. It does not give
a name back: every term is an HMAC under a key the database does not hold, derived for this
purpose alone (so a term never equals an identity digest). That is the price of searching
encrypted names, and it is the same equality a search by email already needs.
"""

import re
import unicodedata
from collections.abc import Iterable

from customer_profile.pii import keyed_digest

PURPOSE = "name-prefix"
PREFIX_MAX = 12
"""Prefixes of 1 to 12 characters are indexed (changing it needs a reindex)."""
WORDS_MAX = 8
"""Words indexed per name: a name of more words is bounded rather than bloating the index."""
QUERY_WORDS_MAX = 4
TERM_BYTES = 16
"""Terms keep the first 128 bits of the HMAC: collisions stay out of reach, the index smaller."""

_SPELLED_OUT = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "ħ": "h",
        "\u0131": "i",
    }
)
# ' and its typographic forms: right single quote, modifier letter apostrophe, grave, acute.
_APOSTROPHES = re.compile("['\u2019\u02bc`\u00b4]")
_SEPARATORS = re.compile(r"[\W_]+")


def words(name: str | None) -> list[str]:
    """The normalised words of a name, in order."""
    if not name:
        return []
    folded = unicodedata.normalize("NFKD", name.casefold().translate(_SPELLED_OUT))
    bare = "".join(char for char in folded if not unicodedata.combining(char))
    return [word for word in _SEPARATORS.split(_APOSTROPHES.sub("", bare)) if word]


def prefixes(*names: str | None) -> set[str]:
    """Every prefix (1 to `PREFIX_MAX` characters) of every word of `names`."""
    return {
        word[:length]
        for name in names
        for word in words(name)[:WORDS_MAX]
        for length in range(1, min(len(word), PREFIX_MAX) + 1)
    }


def term(prefix: str) -> bytes:
    """The stored term of one normalised prefix."""
    return bytes.fromhex(keyed_digest(PURPOSE, prefix))[:TERM_BYTES]


def terms(*names: str | None) -> set[bytes]:
    """The terms a customer with these names is found by."""
    return {term(prefix) for prefix in prefixes(*names)}


def query_words(text: str) -> list[str]:
    """The words of a name query, each cut to `PREFIX_MAX` characters, without repeats."""
    return list(dict.fromkeys(word[:PREFIX_MAX] for word in words(text)))


def query_terms(query: Iterable[str]) -> list[bytes]:
    return [term(word) for word in query]
