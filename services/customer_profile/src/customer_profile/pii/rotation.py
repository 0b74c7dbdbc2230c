"""Key rotation: re-encrypt every ciphertext not under the active key, in bounded batches.

Every encrypted column of every table the models declare (any `EncryptedText`/`EncryptedJSON`
column, so tables added later are covered) is walked in primary-key order; each batch is one
short transaction (this job is its own unit of work) that rewrites only rows still under another
key and still holding the ciphertext read (a row changed meanwhile was written under the active
key already). Events sealed in the outbox are left as they are: the relay opens them under any
listed key and deletes them once published, but a key stays listed while any waits there.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.pii import keyring, repository
from customer_profile.pii.repository import EncryptedColumn, encrypted_columns

__all__ = [
    "EncryptedColumn",
    "RotationReport",
    "encrypted_columns",
    "key_usage",
    "outbox_key_usage",
    "rotate",
]


@dataclass(slots=True)
class RotationReport:
    """Per encrypted column: ciphertexts rewritten under the active key."""

    active_key: str
    rewritten: dict[str, int] = field(default_factory=dict)


async def key_usage(
    *, session: AsyncSession, columns: Sequence[EncryptedColumn]
) -> dict[str, dict[str, int]]:
    """`{column: {key id: ciphertexts}}`: what a key still protects before it is dropped."""
    return {
        target.name: await repository.key_usage(session=session, target=target)
        for target in columns
    }


async def outbox_key_usage(*, session: AsyncSession) -> dict[str, int]:
    """`{key id: events}` sealed in the outbox and not relayed yet."""
    return await repository.outbox_key_usage(session=session)


async def rotate_column(
    *,
    sessions: async_sessionmaker[AsyncSession],
    target: EncryptedColumn,
    batch_size: int = 500,
) -> int:
    """Re-encrypt `target`'s ciphertexts that are under another key; returns how many."""
    ring = keyring()
    width = len(target.key)
    rewritten = 0
    after: tuple[Any, ...] | None = None
    while True:
        async with sessions() as session, session.begin():
            rows = await repository.not_under(
                session=session,
                target=target,
                key_id=ring.active_key,
                after=after,
                limit=batch_size,
            )
            if not rows:
                return rewritten
            changes = [
                {
                    **{f"_k{i}": row[i] for i in range(width)},
                    "_old": bytes(row.blob),
                    "_new": ring.encrypt(
                        target.purpose, ring.decrypt(target.purpose, bytes(row.blob))
                    ),
                }
                for row in rows
            ]
            await repository.replace_ciphertexts(session=session, target=target, changes=changes)
        rewritten += len(rows)
        after = tuple(rows[-1][:width])


async def rotate(
    *,
    sessions: async_sessionmaker[AsyncSession],
    columns: Sequence[EncryptedColumn] | None = None,
    batch_size: int = 500,
) -> RotationReport:
    """Bring every encrypted column under the active key."""
    report = RotationReport(active_key=keyring().active_key)
    for target in columns if columns is not None else encrypted_columns():
        report.rewritten[target.name] = await rotate_column(
            sessions=sessions, target=target, batch_size=batch_size
        )
    return report
