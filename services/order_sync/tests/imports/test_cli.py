"""`python -m order_sync.imports`: the same import from a file path, straight to the database."""

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.orders.events import order_id_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]


async def cli(*args: str, settings: Settings) -> tuple[int, Json | None, str]:
    env = {**os.environ, "ORDER_SYNC_ORDERS_TOPIC": settings.orders_topic}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "order_sync.imports",
        *args,
        "--database-url",
        settings.database_url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out.strip() else None, err.decode()


async def test_the_command_line_imports_a_file_and_its_events_go_out(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    store_id: str,
    tmp_path: Path,
) -> None:
    await register_store(client, store_id)
    path = tmp_path / "history.ndjson"
    lines = [json.dumps(make_order(store_id, f"H-{n}")) for n in range(50)]
    lines[10] = json.dumps(make_order(store_id, "H-10", currency="dollars"))
    path.write_text("\n".join(lines))

    code, job, log = await cli(str(path), "--store", store_id, settings=settings)

    assert code == 2, log  # completed, with a rejected row
    assert job is not None
    assert (job["status"], job["origin"], job["rows_read"]) == ("completed", "cli", 50)
    assert (job["orders_created"], job["orders_rejected"]) == (49, 1)
    assert path.exists()  # the command line's file is its owner's
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        errors = (await session.execute(text("SELECT row, field FROM import_errors"))).all()
    assert [tuple(e) for e in errors] == [(11, "currency")]
    # The service's relay publishes what the command line left in the outbox.
    records = await read_topic(settings.orders_topic, lambda rs: len(rs) >= 98)
    assert {json.loads(r.value)["subject"] for r in records} == {
        order_id_for(store_id, f"H-{n}") for n in range(50) if n != 10
    }

    code, _, log = await cli("--resume", job["import_id"], settings=settings)
    assert code == 1
    assert "completed" in log
    code, _, log = await cli(str(path), "--store", "nobody", settings=settings)
    assert code == 1
    assert "not registered" in log
