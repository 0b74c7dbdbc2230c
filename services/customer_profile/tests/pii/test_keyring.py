"""The PII keyring, ciphertexts and keyed digests, without a database."""

import base64
import json
from pathlib import Path

import pytest
from customer_profile import pii
from customer_profile.pii import EncryptedJSON, EncryptedText, Keyring, PiiKeySettings
from customer_profile.pii.keyring import (
    PiiDecryptionError,
    PiiKeyError,
    ensure_dev_keys_file,
    new_key,
)
from sqlalchemy.dialects import postgresql

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()
LOOKUP = base64.b64encode(b"L" * 32).decode()
DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
PII_ENV = ("PII_KEYS", "PII_ACTIVE_KEY", "PII_LOOKUP_KEY", "PII_KEYS_FILE")


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test gives: settings merge the environment's keys into theirs."""
    for name in PII_ENV:
        monkeypatch.delenv(f"CUSTOMER_PROFILE_{name}", raising=False)


def ring(keys: dict[str, str], active: str | None = None, lookup: str = LOOKUP) -> Keyring:
    return Keyring.from_settings(
        PiiKeySettings(pii_keys=keys, pii_active_key=active, pii_lookup_key=lookup)  # type: ignore[arg-type]
    )


def test_a_value_comes_back_and_is_never_stored_as_is() -> None:
    keys = ring({"k1": K1})
    first = keys.encrypt("customers.email", b"ann@example.com")
    second = keys.encrypt("customers.email", b"ann@example.com")

    assert keys.decrypt("customers.email", first) == b"ann@example.com"
    assert b"ann" not in first
    # A fresh nonce each time: equal values give unequal ciphertexts.
    assert first != second
    assert pii.key_id_of(first) == "k1"


def test_text_and_json_round_trip_through_the_column_types() -> None:
    text = EncryptedText("customers.first_name")
    document = EncryptedJSON("merge_log.snapshot")
    snapshot = {"email": "zoë@example.com", "orders": ["o-1"], "n": 3, "ok": True, "x": None}

    stored_text = text.process_bind_param("Zoë", DIALECT)
    stored_json = document.process_bind_param(snapshot, DIALECT)

    assert isinstance(stored_text, bytes)
    assert isinstance(stored_json, bytes)
    assert "Zoë".encode() not in stored_text
    assert b"example" not in stored_json
    assert text.process_result_value(stored_text, DIALECT) == "Zoë"
    assert document.process_result_value(stored_json, DIALECT) == snapshot
    assert text.process_bind_param(None, DIALECT) is None
    assert document.process_result_value(None, DIALECT) is None


def test_a_ciphertext_moved_to_another_column_does_not_open() -> None:
    keys = ring({"k1": K1})
    email = keys.encrypt("customers.email", b"ann@example.com")

    with pytest.raises(PiiDecryptionError, match=r"customers\.last_name"):
        keys.decrypt("customers.last_name", email)


@pytest.mark.parametrize(
    "position",
    [0, 1, 2, 4, 8, 20, -1],
    ids=["version", "id-length", "key-id", "x", "nonce", "ct", "tag"],
)
def test_a_tampered_ciphertext_fails_loudly(position: int) -> None:
    keys = ring({"k1": K1})
    stored = bytearray(keys.encrypt("customers.email", b"ann@example.com"))
    stored[position] ^= 0x01

    with pytest.raises(PiiDecryptionError):
        keys.decrypt("customers.email", bytes(stored))


def test_a_truncated_or_foreign_value_fails_loudly() -> None:
    keys = ring({"k1": K1})
    stored = keys.encrypt("customers.email", b"ann@example.com")

    for broken in (stored[:10], b"", b"ann@example.com", stored[:-1]):
        with pytest.raises(PiiDecryptionError):
            keys.decrypt("customers.email", broken)


def test_the_wrong_key_under_the_same_id_fails_loudly() -> None:
    stored = ring({"k1": K1}).encrypt("customers.email", b"ann@example.com")

    with pytest.raises(PiiDecryptionError, match="does not authenticate"):
        ring({"k1": K2}).decrypt("customers.email", stored)


def test_a_ciphertext_under_a_key_no_longer_configured_names_that_key() -> None:
    stored = ring({"k1": K1}).encrypt("customers.email", b"ann@example.com")

    with pytest.raises(PiiDecryptionError, match="unknown PII key 'k1'"):
        ring({"k2": K2}).decrypt("customers.email", stored)


def test_after_rotation_new_writes_use_the_active_key_and_old_ones_still_open() -> None:
    before = ring({"k1": K1})
    old = before.encrypt("customers.phone", b"+14155550100")
    after = ring({"k1": K1, "k2": K2}, active="k2")

    new = after.encrypt("customers.phone", b"+14155550199")

    assert pii.key_id_of(new) == "k2"
    assert after.decrypt("customers.phone", old) == b"+14155550100"
    assert after.decrypt("customers.phone", new) == b"+14155550199"
    with pytest.raises(PiiDecryptionError):
        before.decrypt("customers.phone", new)


def test_digests_are_stable_keyed_and_separated_by_purpose() -> None:
    keys = ring({"k1": K1})
    email = keys.keyed_digest("identity", "ann@example.com")

    assert email == keys.keyed_digest("identity", "ann@example.com")
    assert len(email) == 64
    assert int(email, 16) >= 0
    assert email != keys.keyed_digest("name-prefix", "ann@example.com")
    assert email != keys.keyed_digest("identity", "ann@example.org")
    # Rotating data keys leaves digests alone; another lookup key changes every one.
    assert email == ring({"k1": K1, "k2": K2}, active="k2").keyed_digest(
        "identity", "ann@example.com"
    )
    other_lookup = base64.b64encode(b"M" * 32).decode()
    assert email != ring({"k1": K1}, lookup=other_lookup).keyed_digest(
        "identity", "ann@example.com"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "no PII data key configured"),
        ({"pii_keys": {"k1": K1}}, "no PII lookup key"),
        ({"pii_keys": {"k1": K1, "k2": K2}, "pii_lookup_key": LOOKUP}, "PII_ACTIVE_KEY"),
        ({"pii_keys": {"k1": K1}, "pii_active_key": "k9", "pii_lookup_key": LOOKUP}, "'k9'"),
        ({"pii_keys": {"k1": "not base64!"}, "pii_lookup_key": LOOKUP}, "base64"),
        ({"pii_keys": {"k1": base64.b64encode(b"short").decode()}, "pii_lookup_key": LOOKUP}, "32"),
        ({"pii_keys": {"k 1": K1}, "pii_lookup_key": LOOKUP}, "key id"),
        ({"pii_keys": {"k1": K1}, "pii_lookup_key": base64.b64encode(b"s").decode()}, "lookup"),
    ],
)
def test_missing_or_malformed_keys_stop_the_start(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(PiiKeyError, match=message):
        Keyring.from_settings(PiiKeySettings.model_validate(settings))


def test_the_service_refuses_to_start_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from customer_profile.config import Settings
    from customer_profile.main import create_app

    installed = pii.keyring()
    try:
        with pytest.raises(PiiKeyError, match="no PII data key configured"):
            create_app(Settings(jwt_public_key="unused"))
    finally:
        pii.configure(installed)


def test_without_an_installed_keyring_the_environment_is_read_or_nothing_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed = pii.keyring()
    monkeypatch.setattr(pii, "_keyring", None)
    with pytest.raises(PiiKeyError):
        pii.encrypt_text("customers.email", "ann@example.com")
    monkeypatch.setenv("CUSTOMER_PROFILE_PII_KEYS", json.dumps({"env1": K1}))
    monkeypatch.setenv("CUSTOMER_PROFILE_PII_LOOKUP_KEY", LOOKUP)

    assert pii.key_id_of(pii.encrypt_text("customers.email", "ann@example.com")) == "env1"
    pii.configure(installed)


def test_a_keys_file_works_alone_and_the_environment_adds_to_it(tmp_path: Path) -> None:
    path = ensure_dev_keys_file(tmp_path / "pii")
    document = json.loads(path.read_text())
    assert path.stat().st_mode & 0o077 == 0
    assert ensure_dev_keys_file(tmp_path / "pii").read_text() == path.read_text()

    from_file = Keyring.from_settings(PiiKeySettings(pii_keys_file=path))
    stored = from_file.encrypt("customers.email", b"ann@example.com")
    rotated = Keyring.from_settings(
        PiiKeySettings(pii_keys_file=path, pii_keys={"k2": K2}, pii_active_key="k2")  # type: ignore[arg-type]
    )

    assert pii.key_id_of(stored) == document["active_key"]
    assert rotated.decrypt("customers.email", stored) == b"ann@example.com"
    assert pii.key_id_of(rotated.encrypt("customers.email", b"x")) == "k2"
    assert from_file.keyed_digest("identity", "x") == rotated.keyed_digest("identity", "x")


def test_new_keys_are_random_32_byte_keys() -> None:
    first, second = new_key(), new_key()
    assert first != second
    assert len(base64.b64decode(first)) == 32
