"""What the benchmarks share: scratch databases and topics, free ports, percentiles.

The benchmarks run as scripts (`python bench/bench_x.py`), so this sits beside them and is
imported by its module name.
"""

import contextlib
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient


def database_url(server_url: str, database: str) -> str:
    """`server_url` (a PostgreSQL server URL) pointed at `database`."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{database}"))


@contextlib.asynccontextmanager
async def fresh_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new empty database named `prefix_<random>`, dropped afterwards; yields its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield database_url(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    """Delete those of `topics` that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [topic for topic in topics if topic in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` (0 to 1) of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))])
