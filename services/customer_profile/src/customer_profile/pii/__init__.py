"""Personal data at rest: AES-256-GCM column types and keyed digests for lookups.

`configure(Keyring.from_settings(settings))` once at start (create_app does); afterwards
`EncryptedText("<table>.<column>")` / `EncryptedJSON(...)` columns encrypt on write and decrypt
on read, and `keyed_digest(purpose, value)` gives the HMAC under which a value is looked up;
`OutboxSealer` keeps the events waiting in the outbox encrypted too.
Ciphertexts never compare equal to each other: look rows up by a digest column, never by a
ciphertext. See the README (Personal data at rest) for the keys, rotation and the format.
"""

import json
from typing import Any

from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from customer_profile.pii.keyring import (
    Keyring,
    PiiDecryptionError,
    PiiKeyError,
    PiiKeySettings,
    parse_header,
)
from customer_profile.pii.outbox import OutboxSealer

__all__ = [
    "EncryptedJSON",
    "EncryptedText",
    "Keyring",
    "OutboxSealer",
    "PiiDecryptionError",
    "PiiKeyError",
    "PiiKeySettings",
    "configure",
    "decrypt_json",
    "decrypt_text",
    "encrypt_json",
    "encrypt_text",
    "key_id_of",
    "keyed_digest",
    "keyring",
]

_keyring: Keyring | None = None


def configure(ring: Keyring) -> None:
    """Install the process's keyring (at start; tests install a fixed test keyring)."""
    global _keyring
    _keyring = ring


def keyring() -> Keyring:
    """The installed keyring; CLI tools and migrations run outside create_app load it from the
    environment. Without keys this raises: personal data is never written in clear."""
    global _keyring
    if _keyring is None:
        _keyring = Keyring.from_settings(PiiKeySettings())
    return _keyring


def keyed_digest(purpose: str, value: str) -> str:
    """The keyed digest of an already normalised `value`: equal values of one purpose give equal
    digests; the same value under another purpose (email vs name) gives another digest."""
    return keyring().keyed_digest(purpose, value)


def encrypt_text(purpose: str, value: str) -> bytes:
    return keyring().encrypt(purpose, value.encode())


def decrypt_text(purpose: str, blob: bytes) -> str:
    return keyring().decrypt(purpose, blob).decode()


def encrypt_json(purpose: str, value: Any) -> bytes:
    """`value` (JSON-native: dicts, lists, strings, numbers, booleans, None) encrypted."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return keyring().encrypt(purpose, text.encode())


def decrypt_json(purpose: str, blob: bytes) -> Any:
    return json.loads(keyring().decrypt(purpose, blob))


def key_id_of(blob: bytes) -> str:
    """The id of the data key a ciphertext was written under."""
    return parse_header(blob)[0]


class EncryptedText(TypeDecorator[str]):
    """A string stored as an AES-256-GCM ciphertext (bytea) bound to `purpose`, so a value cannot
    be moved to another column and still decrypt. Use `"<table>.<column>"` as the purpose."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:  # noqa: ARG002
        return None if value is None else encrypt_text(self.purpose, value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        return None if value is None else decrypt_text(self.purpose, bytes(value))


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document (addresses, snapshots, proofs) stored as one AES-256-GCM ciphertext."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:  # noqa: ARG002
        return None if value is None else encrypt_json(self.purpose, value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:  # noqa: ARG002
        return None if value is None else decrypt_json(self.purpose, bytes(value))
