"""The keys that protect personal data: AES-256-GCM data keys (rotatable) and the lookup key.

Configuration (env prefix `CUSTOMER_PROFILE_`), each env var taking precedence over the file:
- `PII_KEYS`: JSON object `{"<key id>": "<base64 of 32 random bytes>", ...}`, every data key
  that may still have ciphertexts in the database;
- `PII_ACTIVE_KEY`: the id of the key new writes use (optional when there is one key);
- `PII_LOOKUP_KEY`: base64 of at least 32 random bytes, the secret of the keyed digests. Never
  rotated with the data keys: every stored digest depends on it;
- `PII_KEYS_FILE`: a JSON file `{"active_key": ..., "keys": {...}, "lookup_key": ...}` holding
  the same (a mounted Kubernetes Secret, the development key under `.local/pii/`).
"""

import base64
import binascii
import copy
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

FORMAT_VERSION = 1
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
MIN_LOOKUP_KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_AAD_PREFIX = b"crm/customer-profile/pii\x00"


class PiiKeyError(RuntimeError):
    """The keys are missing or malformed: the service must not start (nor run unencrypted)."""


class PiiDecryptionError(ValueError):
    """A ciphertext cannot be opened: unknown key, tampered bytes, or another column's value."""


class PiiKeySettings(BaseSettings):
    """The key settings, mixed into the service's Settings; readable alone by CLI tools."""

    model_config = SettingsConfigDict(env_prefix="CUSTOMER_PROFILE_", extra="ignore", frozen=True)

    pii_keys: dict[str, SecretStr] = {}
    pii_active_key: str | None = None
    pii_lookup_key: SecretStr | None = None
    pii_keys_file: Path | None = None


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PiiKeyError(f"{what} is not valid base64") from exc


class Keyring:
    """Data keys by id (one of them active for new writes) and the lookup key."""

    def __init__(self, *, keys: Mapping[str, bytes], active_key: str, lookup_key: bytes) -> None:
        if not keys:
            raise PiiKeyError("no PII data key configured (CUSTOMER_PROFILE_PII_KEYS)")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise PiiKeyError(f"PII key id {key_id!r} must match {_KEY_ID.pattern}")
            if len(key) != DATA_KEY_BYTES:
                raise PiiKeyError(f"PII key {key_id!r} must be {DATA_KEY_BYTES} bytes")
        if active_key not in keys:
            raise PiiKeyError(f"the active PII key {active_key!r} is not among the PII keys")
        if len(lookup_key) < MIN_LOOKUP_KEY_BYTES:
            raise PiiKeyError(f"the PII lookup key must be at least {MIN_LOOKUP_KEY_BYTES} bytes")
        self.active_key = active_key
        self.key_ids = frozenset(keys)
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._lookup_key = lookup_key
        self._digest_keys: dict[str, bytes] = {}

    @classmethod
    def from_settings(cls, settings: PiiKeySettings) -> "Keyring":
        """The keyring the settings (and their keys file) describe; PiiKeyError says why not."""
        from_file: dict[str, Any] = {}
        if settings.pii_keys_file is not None:
            try:
                from_file = json.loads(settings.pii_keys_file.read_text())
            except (OSError, ValueError) as exc:
                raise PiiKeyError(f"cannot read PII keys file {settings.pii_keys_file}") from exc
            if not isinstance(from_file, dict) or not isinstance(from_file.get("keys", {}), dict):
                raise PiiKeyError(f"PII keys file {settings.pii_keys_file} is not a keys object")
        encoded: dict[str, str] = {str(k): str(v) for k, v in from_file.get("keys", {}).items()}
        encoded.update({k: v.get_secret_value() for k, v in settings.pii_keys.items()})
        if not encoded:
            raise PiiKeyError(
                "no PII data key configured: set CUSTOMER_PROFILE_PII_KEYS (and "
                "CUSTOMER_PROFILE_PII_LOOKUP_KEY) or CUSTOMER_PROFILE_PII_KEYS_FILE; "
                "`python -m customer_profile.pii keygen` makes them"
            )
        active = settings.pii_active_key or from_file.get("active_key")
        if active is None:
            if len(encoded) != 1:
                raise PiiKeyError("several PII keys: set CUSTOMER_PROFILE_PII_ACTIVE_KEY")
            active = next(iter(encoded))
        lookup = (
            settings.pii_lookup_key.get_secret_value()
            if settings.pii_lookup_key is not None
            else from_file.get("lookup_key")
        )
        if not lookup:
            raise PiiKeyError("no PII lookup key configured (CUSTOMER_PROFILE_PII_LOOKUP_KEY)")
        return cls(
            keys={k: _b64decode(v, f"PII key {k!r}") for k, v in encoded.items()},
            active_key=str(active),
            lookup_key=_b64decode(str(lookup), "the PII lookup key"),
        )

    def with_active_key(self, key_id: str) -> "Keyring":
        """The same keys with `key_id` active: what a replica still on the previous
        configuration writes (tests of rotation)."""
        if key_id not in self.key_ids:
            raise PiiKeyError(f"the active PII key {key_id!r} is not among the PII keys")
        other = copy.copy(self)
        other.active_key = key_id
        return other

    def encrypt(self, purpose: str, plaintext: bytes) -> bytes:
        """`version | key id length | key id | nonce | ciphertext+tag`, bound to `purpose`."""
        header = _header(self.active_key)
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.active_key].encrypt(nonce, plaintext, _aad(purpose, header))
        return header + nonce + sealed

    def decrypt(self, purpose: str, blob: bytes) -> bytes:
        """The plaintext, or PiiDecryptionError: never a wrong value."""
        key_id, header = parse_header(blob)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PiiDecryptionError(f"{purpose}: ciphertext under unknown PII key {key_id!r}")
        nonce = blob[len(header) : len(header) + NONCE_BYTES]
        try:
            return cipher.decrypt(nonce, blob[len(header) + NONCE_BYTES :], _aad(purpose, header))
        except InvalidTag as exc:
            raise PiiDecryptionError(
                f"{purpose}: ciphertext does not authenticate (tampered, or not this column's)"
            ) from exc

    def keyed_digest(self, purpose: str, value: str) -> str:
        """HMAC-SHA256 of `value` under a key derived for `purpose` alone, as 64 hex digits."""
        key = self._digest_keys.get(purpose)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=None,
                info=b"crm/customer-profile/keyed-digest/" + purpose.encode(),
            ).derive(self._lookup_key)
            self._digest_keys[purpose] = key
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _header(key_id: str) -> bytes:
    encoded = key_id.encode()
    return bytes((FORMAT_VERSION, len(encoded))) + encoded


def _aad(purpose: str, header: bytes) -> bytes:
    return _AAD_PREFIX + purpose.encode() + b"\x00" + header


def parse_header(blob: bytes) -> tuple[str, bytes]:
    """(key id, header bytes) of a ciphertext."""
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        raise PiiDecryptionError("not a PII ciphertext (unknown format)")
    end = 2 + blob[1]
    if len(blob) < end + NONCE_BYTES + 16:
        raise PiiDecryptionError("not a PII ciphertext (truncated)")
    try:
        return blob[2:end].decode("ascii"), blob[:end]
    except UnicodeDecodeError as exc:
        raise PiiDecryptionError("not a PII ciphertext (bad key id)") from exc


def new_key() -> str:
    """A fresh random 32-byte key, base64: for PII_KEYS entries and the lookup key."""
    return base64.b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode()


def ensure_dev_keys_file(directory: Path) -> Path:
    """The development keys file under `directory`, made on first use (like the dev JWT key)."""
    path = directory / "keys.json"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        document = {"active_key": "dev1", "keys": {"dev1": new_key()}, "lookup_key": new_key()}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(document, handle, indent=2)
    return path
