"""GET /v1/stores/{id}/sync-status on real PostgreSQL: each figure from what was stored."""

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from crm_common.db import transaction
from crm_common.runtime import PostgresRuntime
from fastapi import FastAPI
from order_sync.imports import service as imports
from order_sync.imports.schemas import ImportFormat, ImportOrigin
from order_sync.orders.events import order_id_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

Json = dict[str, Any]


async def test_the_sync_status_reports_what_was_received_counted_and_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    register_store: Callable[..., Awaitable[httpx.Response]],
    make_order: Callable[..., Json],
    eventually: Callable[..., Awaitable[Any]],
    store_id: str,
    tmp_path: Path,
) -> None:
    other = f"{store_id}-other"
    await register_store(client, store_id)
    await register_store(client, other)
    admin, viewer = auth("admin"), auth("viewer")
    url = f"/v1/stores/{store_id}/sync-status"

    empty = (await client.get(url, headers=viewer)).json()
    assert empty["last_order_received"] is None
    assert empty["orders"] == {
        "total": 0,
        "by_financial_status": dict.fromkeys(
            ("pending", "authorized", "paid", "partially_refunded", "refunded", "voided"), 0
        ),
    }

    await client.post("/v1/orders", json=make_order(store_id, "R-1"), headers=admin)
    await client.post("/v1/orders", json=make_order(other, "O-1"), headers=admin)
    batch = [
        make_order(store_id, "B-1", financial_status="pending"),
        make_order(store_id, "B-2", financial_status="refunded", refunded_total="32.00"),
        make_order(store_id, "B-3", total=1.5),
        make_order(store_id, "B-4", lines=[]),
        make_order("not-registered", "B-5", total=1.5),
        make_order(other, "B-6", total=1.5),
    ]
    await client.post("/v1/orders:batch", json={"orders": batch}, headers=admin)
    lines = [make_order(store_id, "I-1"), make_order(store_id, "I-2", currency="??")]
    upload = await client.post(
        "/v1/imports",
        params={"store_id": store_id},
        content="\n".join(json.dumps(line) for line in lines).encode(),
        headers={**admin, "content-type": "application/x-ndjson"},
    )
    runtime: PostgresRuntime = app.state.runtime
    async with transaction(runtime.sessions) as session:
        missing = await imports.create_job(
            session=session,
            store_id=store_id,
            fmt=ImportFormat.CSV,
            origin=ImportOrigin.API,
            file_path=tmp_path / "gone.csv",
            file_name="gone.csv",
            file_bytes=1,
        )
        now = datetime.now(UTC)
        for minutes, outcome in ((3, "applied"), (2, "failed"), (1, "rejected")):
            await session.execute(
                text(
                    "INSERT INTO webhook_deliveries (platform, store_id, topic, body, body_sha256,"
                    " headers, received_at, outcome) VALUES ('shopify', :s, :t, '\\x7b7d',"
                    " 'x', '{}', :at, :o)"
                ),
                {
                    "s": store_id,
                    "t": f"orders/{outcome}",
                    "at": now - timedelta(minutes=minutes),
                    "o": outcome,
                },
            )
    app.state.import_runner.submit(missing.import_id)

    async def imports_done() -> Json | None:
        status: Json = (await client.get(url, headers=viewer)).json()
        jobs = status["imports"]
        return status if (jobs["completed"], jobs["failed"]) == (1, 1) else None

    status = await eventually(imports_done, what="both imports finished")

    assert upload.status_code == 202
    assert status["store_id"] == store_id
    last = status["last_order_received"]
    assert (last["external_id"], last["channel"]) == ("I-1", "import")
    assert last["order_id"] == order_id_for(store_id, "I-1")
    assert status["orders"]["total"] == 4  # R-1, B-1, B-2, I-1
    assert {k: v for k, v in status["orders"]["by_financial_status"].items() if v} == {
        "paid": 2,
        "pending": 1,
        "refunded": 1,
    }
    assert status["imports"]["in_progress"] == 0
    assert status["imports"]["last_finished_at"] is not None
    webhooks = status["webhooks"]
    assert (webhooks["last_topic"], webhooks["last_outcome"]) == ("orders/rejected", "rejected")
    assert webhooks["by_outcome"] == {"applied": 1, "failed": 1, "rejected": 1}
    errors = status["errors"]
    assert errors == {
        "rejected_batch_items": 2,
        "last_rejected_batch_item_at": errors["last_rejected_batch_item_at"],
        "rejected_import_orders": 1,
        "failed_imports": 1,
        "failed_webhooks": 1,
        "rejected_webhooks": 1,
    }
    assert errors["last_rejected_batch_item_at"] is not None
    theirs = (await client.get(f"/v1/stores/{other}/sync-status", headers=viewer)).json()
    assert theirs["errors"]["rejected_batch_items"] == 1
    assert theirs["last_order_received"]["channel"] == "rest"
    assert (await client.get("/v1/stores/nope/sync-status", headers=viewer)).status_code == 404
    assert (await client.get(url)).status_code == 401
