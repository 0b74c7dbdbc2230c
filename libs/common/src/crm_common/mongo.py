"""MongoDB-wire access through PyMongo's own async client (motor is end-of-life)."""

from typing import Any

from pymongo import AsyncMongoClient


def create_client(url: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")
