"""Webhook signatures: base64 HMAC-SHA256 of the raw body, compared in constant time."""

import base64
import hashlib
import hmac
import re


def sign(secret: bytes, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, body)), as Shopify and WooCommerce compute it."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def verify(secret: bytes, body: bytes, signature: str | None) -> bool:
    """Whether `signature` is the one `secret` gives `body`; a missing one never is."""
    if not signature:
        return False
    # Bytes, so a header with characters outside ASCII is a mismatch rather than a TypeError.
    return hmac.compare_digest(sign(secret, body).encode("ascii"), signature.encode("utf-8"))


def shopify_key(secret: str) -> bytes:
    return secret.encode("utf-8")


# The entities WordPress's wp_specialchars_decode($secret, ENT_QUOTES) turns back into
# characters: four named ones, five decimal ones (leading zeros allowed) and three hexadecimal.
_ENTITIES = re.compile(r"&(?:(lt|gt|quot|amp)|#0*(60|62|34|38|39)|#[xX]0*(22|26|27));")
_NAMED = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}


def woocommerce_key(secret: str) -> bytes:
    """The key WooCommerce signs with: its stored secret after wp_specialchars_decode."""

    def decode(match: re.Match[str]) -> str:
        named, decimal, hexadecimal = match.groups()
        if named:
            return _NAMED[named]
        return chr(int(decimal) if decimal else int(hexadecimal, 16))

    return _ENTITIES.sub(decode, secret).encode("utf-8")
