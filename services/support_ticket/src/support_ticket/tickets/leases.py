"""Short write leases, one writer at a time per ticket (or per store's number counter).

FerretDB 1.24 applies an update as a read then a write, without holding the document between
the two: measured on the local server, a version-guarded update of one document sent by 20
writers at once matched for up to 6 of them, and 20 concurrent `$inc` of one counter left it
at 1. An insert against a unique `_id`, and a delete, are decided exactly once. So a writer
first inserts a lease document named for what it changes; whoever inserts it writes, the
others wait and try again. A lease that outlived its writer (a crash) is taken over once it
expires.
"""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.problems import ProblemError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

COLLECTION = "leases"
LEASE_SECONDS = 30.0
"""Far beyond any write made under a lease: only a writer that died holds one this long."""
WAIT_SECONDS = 10.0
# Its own generator: the process-wide one is left to whoever seeds it (tests' fuzzers do).
_JITTER = random.Random()


class Busy(ProblemError):
    def __init__(self, name: str) -> None:
        super().__init__(
            503, f"{name} is being changed by others; try again", headers={"Retry-After": "1"}
        )


@asynccontextmanager
async def held(database: AsyncDatabase[dict[str, Any]], name: str) -> AsyncIterator[None]:
    """Hold the lease `name` for the block; raises `Busy` after waiting `WAIT_SECONDS`."""
    leases = database[COLLECTION]
    token = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    pause = 0.005
    while True:
        now = datetime.now(UTC)
        try:
            await leases.insert_one(
                {"_id": name, "token": token, "expires_at": now + timedelta(seconds=LEASE_SECONDS)}
            )
            break
        except DuplicateKeyError:
            holder = await leases.find_one({"_id": name})
            if holder is not None and holder["expires_at"] < now:
                await leases.delete_one({"_id": name, "token": holder["token"]})
                continue
        if loop.time() > deadline:
            raise Busy(name)
        await asyncio.sleep(pause * _JITTER.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.1)
    try:
        yield
    finally:
        await leases.delete_one({"_id": name, "token": token})
