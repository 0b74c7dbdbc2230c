"""The queries of key rotation, on any table with encrypted columns."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crm_common.outbox import OutboxEvent
from sqlalchemy import (
    Column,
    LargeBinary,
    Table,
    and_,
    bindparam,
    func,
    literal,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from customer_profile.pii import EncryptedJSON, EncryptedText


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: Table
    column: Column[Any]
    purpose: str

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"

    @property
    def key(self) -> list[Column[Any]]:
        return list(self.table.primary_key.columns)


def encrypted_columns(tables: Sequence[Table] | None = None) -> list[EncryptedColumn]:
    """Every column of `tables` (default: every registered table) stored encrypted."""
    found = []
    for table in tables if tables is not None else SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON):
                found.append(EncryptedColumn(table, column, column.type.purpose))
    return found


def _raw(column: Column[Any]) -> ColumnElement[bytes]:
    """The stored bytes, not decrypted."""
    return type_coerce(column, LargeBinary())


def _key_id(column: Column[Any]) -> ColumnElement[bytes]:
    """The key id of a stored ciphertext (see `Keyring.encrypt` for the layout)."""
    raw = _raw(column)
    return func.substring(raw, 3, func.get_byte(raw, 1))


async def key_usage(*, session: AsyncSession, target: EncryptedColumn) -> dict[str, int]:
    """`{key id: ciphertexts}` of one column."""
    key_id = _key_id(target.column)
    rows = await session.execute(
        select(key_id, func.count())
        .select_from(target.table)
        .where(target.column.is_not(None))
        .group_by(key_id)
    )
    return {bytes(k).decode(): n for k, n in rows.all()}


async def outbox_key_usage(*, session: AsyncSession) -> dict[str, int]:
    """`{key id: payloads}` of the events waiting sealed in the outbox (not those in clear)."""
    payload = OutboxEvent.__table__.c.payload  # type: ignore[attr-defined]
    key_id = _key_id(payload)
    rows = await session.execute(
        select(key_id, func.count()).where(func.get_byte(payload, 0) != ord("{")).group_by(key_id)
    )
    return {bytes(k).decode(): n for k, n in rows.all()}


async def not_under(
    *,
    session: AsyncSession,
    target: EncryptedColumn,
    key_id: str,
    after: tuple[Any, ...] | None,
    limit: int,
) -> list[Any]:
    """Up to `limit` rows (primary key..., `blob`) after `after` in primary-key order whose
    ciphertext is under another key than `key_id`."""
    query = (
        select(*target.key, _raw(target.column).label("blob"))
        .where(target.column.is_not(None))
        .where(_key_id(target.column) != literal(key_id.encode(), LargeBinary()))
        .order_by(*target.key)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(*target.key) > tuple_(*after))
    return list((await session.execute(query)).all())


async def replace_ciphertexts(
    *, session: AsyncSession, target: EncryptedColumn, changes: Sequence[dict[str, Any]]
) -> None:
    """Each change: `_k<i>` (the primary key), `_old` and `_new` ciphertexts; a row no longer
    holding `_old` is left alone."""
    match = [key == bindparam(f"_k{i}") for i, key in enumerate(target.key)]
    statement = (
        update(target.table)
        .where(and_(*match), _raw(target.column) == bindparam("_old", type_=LargeBinary()))
        .values({target.column.name: bindparam("_new", type_=LargeBinary())})
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement, list(changes))
