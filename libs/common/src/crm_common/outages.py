"""Telling an outage (a store or the broker out of reach) from an event that cannot be applied.

A consumer that meets an outage waits for it to end and tries the same events again, however
long that takes; only an error that names the event itself may send it to a dead-letter topic.
"""

from collections.abc import Iterator

import asyncpg
from aiokafka.errors import KafkaError
from pymongo.errors import ConnectionFailure
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes and codes that say the server cannot serve anyone right now: connection
# exceptions (08), insufficient resources (53: too many connections, disk full, out of memory)
# and operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
# now: "the database system is not yet accepting connections" while it recovers).
_OUTAGE_SQLSTATE_PREFIXES = ("08", "53", "57P")
_MID_OPERATION = "another operation is in progress"


def is_outage(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says a store or the broker is out of
    reach rather than that the work at hand is wrong."""
    return any(_names_outage(cause) for cause in _causes(error))


def _names_outage(error: BaseException) -> bool:
    if isinstance(error, OSError | ConnectionFailure | PoolTimeout):
        # OSError covers refused and reset connections and timeouts of every client.
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, asyncpg.exceptions.InternalClientError) or (
        isinstance(error, asyncpg.InterfaceError) and _MID_OPERATION in str(error)
    ):
        # A connection whose server went away in the middle of a statement (a commit, say) is
        # left mid-operation, and refuses the rollback that follows.
        return True
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        sqlstate = getattr(error, "sqlstate", None) or ""
        return sqlstate.startswith(_OUTAGE_SQLSTATE_PREFIXES) or isinstance(
            error, asyncpg.ConnectionDoesNotExistError
        )
    return isinstance(error, KafkaError) and bool(getattr(error, "retriable", False))


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what it was raised from or while handling (SQLAlchemy also keeps the driver's
    error as `orig`), each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__, getattr(current, "orig", None)):
            if isinstance(linked, BaseException):
                pending.append(linked)
