"""POST /v1/imports on real PostgreSQL and Kafka: streamed uploads, chunks, errors, resuming."""

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from crm_common.db import transaction
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from order_sync.config import Settings
from order_sync.imports import service
from order_sync.imports.schemas import ImportFormat, ImportOrigin
from order_sync.main import create_app
from order_sync.orders.events import order_id_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]
Eventually = Callable[..., Awaitable[Any]]


def ndjson_lines(store_id: str, count: int, make_order: Callable[..., Json]) -> list[bytes]:
    return [
        json.dumps(make_order(store_id, f"I-{n}", financial_status="pending")).encode()
        for n in range(1, count + 1)
    ]


async def finished(
    client: httpx.AsyncClient, headers: dict[str, str], import_id: str, eventually: Eventually
) -> Json:
    async def probe() -> Json | None:
        job: Json = (await client.get(f"/v1/imports/{import_id}", headers=headers)).json()
        return job if job["status"] in ("completed", "failed") else None

    result: Json = await eventually(probe, timeout=90, what=f"import {import_id} finished")
    return result


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    runtime: PostgresRuntime = app.state.runtime
    async with runtime.sessions() as session:
        return await session.scalar(text(sql), params)


async def test_2000_ndjson_rows_with_bad_ones_are_applied_in_chunks(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    eventually: Eventually,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    lines = ndjson_lines(store_id, 2000, make_order)
    lines[6] = b'{"external_id": "broken'
    lines[499] = json.dumps(make_order(store_id, "I-500", total=32.5)).encode()
    lines[1998] = json.dumps(make_order("someone-else", "I-1999")).encode()
    body = b"\n".join(lines) + b"\n"

    response = await client.post(
        "/v1/imports",
        params={"store_id": store_id},
        content=body,
        headers={**auth("admin"), "content-type": "application/x-ndjson"},
    )

    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    assert response.headers["location"] == f"/v1/imports/{import_id}"
    job = await finished(client, auth("viewer"), import_id, eventually)
    assert job["status"] == "completed", job
    assert {k: job[k] for k in job if k.startswith(("rows_", "orders_", "errors_", "last_"))} == {
        "rows_read": 2000,
        "orders_read": 2000,
        "orders_created": 1997,
        "orders_updated": 0,
        "orders_unchanged": 0,
        "orders_rejected": 3,
        "errors_total": 3,
        "last_committed_row": 2000,
    }
    assert [(e["row"], e["field"]) for e in job["errors"]] == [
        (7, ""),
        (500, "total"),
        (1999, "store_id"),
    ]
    assert job["file_bytes"] == len(body)
    assert await scalar(app, "SELECT count(*) FROM orders") == 1997
    assert await scalar(app, "SELECT count(*) FROM orders WHERE changed_via = 'import'") == 1997
    assert not list(settings.import_spool_dir.glob(f"{import_id}*"))  # the upload is gone

    records = await read_topic(settings.orders_topic, lambda rs: len(rs) >= 1997, timeout=90)
    placed = {json.loads(r.value)["subject"] for r in records}
    assert len(records) == 1997
    assert placed == {order_id_for(store_id, f"I-{n}") for n in range(1, 2001)} - {
        order_id_for(store_id, f"I-{n}") for n in (7, 500, 1999)
    }


async def test_a_csv_upload_in_a_form_is_imported_and_its_errors_paged(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    eventually: Eventually,
    store_id: str,
) -> None:
    await register_store(client, store_id)
    csv = (
        "external_id,placed_at,currency,financial_status,total,customer_email,"
        "line_sku,line_name,line_quantity,line_unit_price\n"
        "C-1,2026-11-01T10:00:00Z,USD,paid,30.00,a@example.com,MUG,Mug,2,10.00\n"
        "C-1,,,,,,TEA,Tea,1,10.00\n"
        "C-2,2026-11-01T11:00:00Z,USD,paid,5.00,,PEN,Pen,1,5.00\n"
        "C-3,2026-11-01T12:00:00Z,USD,paid,five,b@example.com,,Cap,-1,5.00\n"
    )

    response = await client.post(
        "/v1/imports",
        params={"store_id": store_id},
        files={"file": ("export.csv", csv.encode(), "application/octet-stream")},
        data={"note": "ignored"},
        headers=auth("admin"),
    )

    assert response.status_code == 202, response.text
    assert (response.json()["format"], response.json()["file_name"]) == ("csv", "export.csv")
    job = await finished(client, auth("viewer"), response.json()["import_id"], eventually)
    assert (job["status"], job["rows_read"], job["orders_read"]) == ("completed", 4, 3)
    assert (job["orders_created"], job["orders_rejected"]) == (1, 2)
    lines = "SELECT count(*) FROM order_lines WHERE order_id = :o"
    assert await scalar(app, lines, o=order_id_for(store_id, "C-1")) == 2

    pages: list[Json] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(
                f"/v1/imports/{job['import_id']}/errors", params=params, headers=auth("viewer")
            )
        ).json()
        pages.extend(page["errors"])
        if not (cursor := page["next_cursor"]):
            break
    assert [(e["row"], e["field"]) for e in pages] == [
        (4, "customer"),
        (5, "line_quantity"),
        (5, "total"),
    ]


async def test_an_interrupted_import_resumes_after_its_last_chunk_without_duplicates(
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    read_topic: Callable[..., Awaitable[Any]],
    eventually: Eventually,
    store_id: str,
    tmp_path: Path,
) -> None:
    settings = settings.model_copy(update={"import_spool_dir": tmp_path})
    lines = ndjson_lines(store_id, 2000, make_order)
    blocker = make_order(store_id, "I-1500", financial_status="pending")
    lines[1499] = json.dumps(
        {**blocker, "financial_status": "paid", "updated_at": "2026-11-09T00:00:00Z"}
    ).encode()
    first = create_app(settings)
    async with LifespanManager(first, startup_timeout=90, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            await register_store(client, store_id)
            await client.post("/v1/orders", json=blocker, headers=auth("admin"))
            # Another transaction holds I-1500, so the chunk of rows 1001-1500 waits for it
            # while the chunks before it commit: the process is stopped right there.
            holder = await asyncpg.connect(settings.database_url)
            holding = holder.transaction()
            await holding.start()
            await holder.execute(
                "SELECT 1 FROM orders WHERE order_id = $1 FOR UPDATE",
                order_id_for(store_id, "I-1500"),
            )
            response = await client.post(
                "/v1/imports",
                params={"store_id": store_id},
                content=b"\n".join(lines),
                headers={**auth("admin"), "content-type": "application/x-ndjson"},
            )
            import_id = response.json()["import_id"]

            async def two_chunks_in() -> bool:
                job = (await client.get(f"/v1/imports/{import_id}", headers=auth("viewer"))).json()
                return bool(job["last_committed_row"] == 1000)

            await eventually(two_chunks_in, what="two chunks committed")
    await holding.rollback()
    await holder.close()

    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=90, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://o") as client:
            job = await finished(client, auth("viewer"), import_id, eventually)
            runtime: PostgresRuntime = second.state.runtime
            async with runtime.sessions() as session:
                stored = await session.scalar(text("SELECT count(*) FROM orders"))
            records = await read_topic(
                settings.orders_topic,
                lambda rs: len({json.loads(r.value)["id"] for r in rs}) >= 2001,
                timeout=90,
            )

    assert job["status"] == "completed"
    assert (job["rows_read"], job["orders_created"], job["orders_updated"]) == (2000, 1999, 1)
    assert job["orders_rejected"] == job["errors_total"] == 0
    assert stored == 2000
    # The stopped process's relay may have published its last batch without deleting it, so
    # an event can arrive twice (at least once, by design); never two events for one change.
    events = {e["id"]: e for e in (json.loads(r.value) for r in records)}
    published = {(e["subject"], e["type"], e["data"]["version"]) for e in events.values()}
    assert len(events) == len(published) == 2001  # placed x 2000, paid x 1
    blocker_id = order_id_for(store_id, "I-1500")
    assert sorted(p for p in published if p[0] == blocker_id) == [
        (blocker_id, "crm.order.paid", 2),
        (blocker_id, "crm.order.placed", 1),
    ]


async def test_a_failed_import_is_resumed_once_its_file_is_there(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    eventually: Eventually,
    store_id: str,
    tmp_path: Path,
) -> None:
    await register_store(client, store_id)
    path = tmp_path / "later.ndjson"
    runtime: PostgresRuntime = app.state.runtime
    async with transaction(runtime.sessions) as session:
        job = await service.create_job(
            session=session,
            store_id=store_id,
            fmt=ImportFormat.NDJSON,
            origin=ImportOrigin.API,
            file_path=path,
            file_name=None,
            file_bytes=0,
        )
    app.state.import_runner.submit(job.import_id)
    failed = await finished(client, auth("viewer"), job.import_id, eventually)
    assert failed["status"] == "failed"
    assert "FileNotFoundError" in failed["failure"]

    path.write_bytes(b"\n".join(ndjson_lines(store_id, 3, make_order)))
    resumed = await client.post(f"/v1/imports/{job.import_id}:resume", headers=auth("admin"))

    assert resumed.status_code == 202, resumed.text
    done = await finished(client, auth("viewer"), job.import_id, eventually)
    assert (done["status"], done["orders_created"], done["failure"]) == ("completed", 3, None)
    again = await client.post(f"/v1/imports/{job.import_id}:resume", headers=auth("admin"))
    assert again.status_code == 409
    assert (await client.post("/v1/imports/nope:resume", headers=auth("admin"))).status_code == 404


async def test_unusable_uploads_are_refused_and_leave_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    store_id: str,
) -> None:
    await register_store(client, store_id)
    admin = auth("admin")
    target = {"store_id": store_id}
    before = (
        set(settings.import_spool_dir.glob("*")) if settings.import_spool_dir.exists() else set()
    )

    cases = [
        (
            415,
            "header.content-type",
            {"content": b"{}", "headers": {**admin, "content-type": "application/json"}},
        ),
        (422, "body", {"content": b"", "headers": {**admin, "content-type": "text/csv"}}),
        (422, "file", {"files": {"other": ("a.csv", b"x")}, "headers": admin}),
        (
            422,
            "query.format",
            {"files": {"file": ("orders.txt", b"x", "text/plain")}, "headers": admin},
        ),
    ]
    for status, field, request in cases:
        response = await client.post("/v1/imports", params=target, **request)
        assert response.status_code == status, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]
    unknown = await client.post(
        "/v1/imports",
        params={"store_id": "nobody"},
        content=b"x",
        headers={**admin, "content-type": "text/csv"},
    )
    viewer = await client.post(
        "/v1/imports",
        params=target,
        content=b"x",
        headers={**auth("viewer"), "content-type": "text/csv"},
    )

    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["query.store_id"]
    assert viewer.status_code == 403
    assert await scalar(app, "SELECT count(*) FROM import_jobs") == 0
    after = (
        set(settings.import_spool_dir.glob("*")) if settings.import_spool_dir.exists() else set()
    )
    assert after == before
