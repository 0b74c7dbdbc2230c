"""Personal data encrypted at rest; identity digests keyed.

Contact fields, identity values, merge snapshots and notes, suggestion values and consent proofs
become AES-256-GCM ciphertexts (bytea); customer_identities.value, the identity sightings, merge
suggestions and pending activity hold keyed digests (HMAC-SHA256) instead of values or plain
SHA-256. It needs the PII keys: those of the running service (create_app installs them before
migrating) or, run alone, the CUSTOMER_PROFILE_PII_* environment.

Unkeyed digests cannot be turned into keyed ones without the values behind them: sightings and
pending activity are re-keyed through every value the store still knows (identities, order
contact data, suggestions); a digest of a value known nowhere (a shop's anonymous visitor id, an
identity only pending activity named) is dropped, and pending activity left naming nothing goes.

Revision ID: 0005_pii_encryption
Revises: 0004_timeline_scoring
Create Date: 2026-11-27 12:00:00.000000
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from customer_profile import pii
from sqlalchemy.dialects import postgresql

revision: str = "0005_pii_encryption"
down_revision: str | None = "0004_timeline_scoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

BATCH = 1000
Columns = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
# table: (primary key, columns)
TEXT_COLUMNS: Columns = {
    "customers": (("customer_id",), ("email", "phone", "first_name", "last_name")),
    "customer_orders": (("order_id",), ("email", "phone", "first_name", "last_name")),
    "merge_log": (("seq",), ("note",)),
    "merge_suggestions": (("suggestion_id",), ("identity_value",)),
}
JSON_COLUMNS: Columns = {
    "merge_log": (("seq",), ("snapshot",)),
    "customer_consents": (("customer_id", "channel", "purpose"), ("proof",)),
    "consent_log": (("entry_id",), ("proof",)),
}


def _identity_text(kind: str, store_id: str, value: str) -> str:
    return "\x1f".join((kind, store_id, value))


def _keyed(kind: str, store_id: str, value: str) -> str:
    # customer_profile.customers.identities.digest, spelled out: a migration must not change
    # meaning when the application code moves on.
    return pii.keyed_digest("identity", _identity_text(kind, store_id, value))


def _legacy(kind: str, store_id: str, value: str) -> str:
    return hashlib.sha256(_identity_text(kind, store_id, value).encode()).hexdigest()


def _batches(table: str, key: Sequence[str], columns: Sequence[str]) -> Iterator[list[sa.Row[Any]]]:
    """The rows of `table` in primary-key order, BATCH at a time (keyset paging)."""
    bind = op.get_bind()
    keys = ", ".join(key)
    selected = ", ".join((*key, *columns))
    last: tuple[Any, ...] | None = None
    while True:
        after = ""
        params: dict[str, Any] = {"n": BATCH}
        if last is not None:
            after = f"WHERE ({keys}) > ({', '.join(f':k{i}' for i in range(len(key)))})"
            params |= {f"k{i}": value for i, value in enumerate(last)}
        rows = list(
            bind.execute(
                sa.text(f"SELECT {selected} FROM {table} {after} ORDER BY {keys} LIMIT :n"),
                params,
            )
        )
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][: len(key)])


def _rewrite(
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    convert: Callable[[str, bytes], bytes | None],
) -> None:
    """Set each non-null value of `columns` to `convert("<table>.<column>", value)`: the
    purpose is what the models' encrypted types bind their ciphertexts to."""
    bind = op.get_bind()
    assignments = ", ".join(f"{c} = :{c}" for c in columns)
    match = " AND ".join(f"{k} = :_{k}" for k in key)
    update = sa.text(f"UPDATE {table} SET {assignments} WHERE {match}")
    for rows in _batches(table, key, columns):
        changes = []
        for row in rows:
            values = dict(zip(columns, row[len(key) :], strict=True))
            if all(value is None for value in values.values()):
                continue
            change = {
                c: None if v is None else convert(f"{table}.{c}", bytes(v))
                for c, v in values.items()
            }
            changes.append(change | {f"_{k}": v for k, v in zip(key, row, strict=False)})
        if changes:
            bind.execute(update, changes)


def _encrypt_columns() -> None:
    for table, (key, columns) in TEXT_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.LargeBinary(),
                postgresql_using=f"convert_to({column}, 'UTF8')",
            )
        _rewrite(table, key, columns, _encrypt_text)
    for table, (key, columns) in JSON_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.LargeBinary(),
                postgresql_using=f"convert_to({column}::text, 'UTF8')",
            )
        # A JSON null (not SQL NULL) stands for no value as well.
        _rewrite(table, key, columns, _encrypt_json)


def _encrypt_text(purpose: str, stored: bytes) -> bytes | None:
    return pii.encrypt_text(purpose, stored.decode())


def _encrypt_json(purpose: str, stored: bytes) -> bytes | None:
    value = json.loads(stored)
    return None if value is None else pii.encrypt_json(purpose, value)


def _decrypt_text(purpose: str, stored: bytes) -> bytes | None:
    return pii.decrypt_text(purpose, stored).encode()


def _decrypt_json(purpose: str, stored: bytes) -> bytes | None:
    return json.dumps(pii.decrypt_json(purpose, stored)).encode()


def _decrypt_columns() -> None:
    for table, (key, columns) in TEXT_COLUMNS.items():
        _rewrite(table, key, columns, _decrypt_text)
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.String(),
                postgresql_using=f"convert_from({column}, 'UTF8')",
            )
    for table, (key, columns) in JSON_COLUMNS.items():
        _rewrite(table, key, columns, _decrypt_json)
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=postgresql.JSONB(astext_type=sa.Text()),
                postgresql_using=f"convert_from({column}, 'UTF8')::jsonb",
            )


def _create_digest_map() -> None:
    op.execute(
        "CREATE TEMPORARY TABLE pii_digest_map (legacy text PRIMARY KEY, keyed text NOT NULL)"
        " ON COMMIT DROP"
    )


def _map_digests(identities: set[tuple[str, str, str]]) -> None:
    if identities:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO pii_digest_map (legacy, keyed) VALUES (:legacy, :keyed)"
                " ON CONFLICT DO NOTHING"
            ),
            [{"legacy": _legacy(*i), "keyed": _keyed(*i)} for i in identities],
        )


def _map_known_values() -> None:
    """Every identity value the store knows (plain, before encryption), legacy digest to keyed."""
    for rows in _batches("customer_identities", ("kind", "store_id", "value"), ()):
        _map_digests({(row.kind, row.store_id, row.value) for row in rows})
    for rows in _batches("customer_orders", ("order_id",), ("email", "phone")):
        found = {("email", "", row.email) for row in rows if row.email is not None}
        found |= {("phone", "", row.phone) for row in rows if row.phone is not None}
        _map_digests(found)
    for rows in _batches(
        "merge_suggestions",
        ("suggestion_id",),
        ("identity_kind", "identity_store_id", "identity_value"),
    ):
        _map_digests({(r.identity_kind, r.identity_store_id or "", r.identity_value) for r in rows})


def _convert_identities() -> None:
    op.add_column(
        "customer_identities", sa.Column("normalised_value", sa.LargeBinary(), nullable=True)
    )
    bind = op.get_bind()
    purpose = "customer_identities.normalised_value"
    # Rows already converted have their normalised_value: no paging over a changing key.
    while rows := list(
        bind.execute(
            sa.text(
                "SELECT kind, store_id, value FROM customer_identities"
                " WHERE normalised_value IS NULL LIMIT :n"
            ),
            {"n": BATCH},
        )
    ):
        bind.execute(
            sa.text(
                "UPDATE customer_identities SET value = :digest, normalised_value = :encrypted"
                " WHERE kind = :kind AND store_id = :store_id AND value = :value"
            ),
            [
                {
                    "kind": r.kind,
                    "store_id": r.store_id,
                    "value": r.value,
                    "digest": _keyed(r.kind, r.store_id, r.value),
                    "encrypted": pii.encrypt_text(purpose, r.value),
                }
                for r in rows
            ],
        )
    op.alter_column("customer_identities", "normalised_value", nullable=False)


def _rekey_suggestions() -> None:
    bind = op.get_bind()
    rows = _batches(
        "merge_suggestions",
        ("suggestion_id",),
        ("identity_kind", "identity_store_id", "identity_value"),
    )
    for batch in rows:
        bind.execute(
            sa.text(
                "UPDATE merge_suggestions SET identity_digest = :digest"
                " WHERE suggestion_id = :suggestion_id"
            ),
            [
                {
                    "suggestion_id": r.suggestion_id,
                    "digest": _keyed(r.identity_kind, r.identity_store_id or "", r.identity_value),
                }
                for r in batch
            ],
        )


def _remap(source: str, target: str) -> None:
    """Sightings and pending activity from `source` digests (`legacy` or `keyed`) to `target`;
    what the map does not know goes."""
    op.execute(
        f"DELETE FROM identity_sightings s WHERE NOT EXISTS"
        f" (SELECT 1 FROM pii_digest_map m WHERE m.{source} = s.identity_digest)"
        f" OR NOT EXISTS (SELECT 1 FROM pii_digest_map m WHERE m.{source} = s.partner_digest)"
    )
    op.execute(
        f"UPDATE identity_sightings s SET identity_digest = i.{target}, partner_digest = p.{target}"
        f" FROM pii_digest_map i, pii_digest_map p"
        f" WHERE i.{source} = s.identity_digest AND p.{source} = s.partner_digest"
    )
    op.execute(
        f"UPDATE timeline_pending t SET identity_digests = ARRAY("
        f"SELECT m.{target} FROM unnest(t.identity_digests) AS d(digest)"
        f" JOIN pii_digest_map m ON m.{source} = d.digest)"
    )
    op.execute("DELETE FROM timeline_pending WHERE cardinality(identity_digests) = 0")


def upgrade() -> None:
    pii.keyring()  # no keys, no migration: fails here, before anything changes
    _create_digest_map()
    _map_known_values()
    _convert_identities()
    _rekey_suggestions()
    _encrypt_columns()
    _remap("legacy", "keyed")
    counts = op.get_bind().execute(sa.text("SELECT count(*) FROM pii_digest_map")).scalar()
    logger.info("0005_pii_encryption: %s identity values re-keyed", counts)


def downgrade() -> None:
    pii.keyring()
    _decrypt_columns()
    bind = op.get_bind()
    purpose = "customer_identities.normalised_value"
    op.alter_column("customer_identities", "normalised_value", nullable=True)
    while rows := list(
        bind.execute(
            sa.text(
                "SELECT kind, store_id, value, normalised_value FROM customer_identities"
                " WHERE normalised_value IS NOT NULL LIMIT :n"
            ),
            {"n": BATCH},
        )
    ):
        bind.execute(
            sa.text(
                "UPDATE customer_identities SET value = :plain, normalised_value = NULL"
                " WHERE kind = :kind AND store_id = :store_id AND value = :value"
            ),
            [
                {
                    "kind": r.kind,
                    "store_id": r.store_id,
                    "value": r.value,
                    "plain": pii.decrypt_text(purpose, bytes(r.normalised_value)),
                }
                for r in rows
            ],
        )
    op.drop_column("customer_identities", "normalised_value")
    _create_digest_map()
    _map_known_values()
    op.execute(
        "UPDATE merge_suggestions SET identity_digest = encode(sha256(convert_to("
        "identity_kind || chr(31) || coalesce(identity_store_id, '') || chr(31)"
        " || identity_value, 'UTF8')), 'hex')"
    )
    _remap("keyed", "legacy")
