"""The reports on real Kafka and PostgreSQL: orders, late refunds, attributions, merges and
their undoing published on the real topics; the roll-ups corrected exactly, as the reports
show them, in JSON and in CSV."""

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from crm_events.order import OrderSnapshot

pytestmark = pytest.mark.integration

Wait = Callable[..., Awaitable[None]]
Publish = Callable[..., Awaitable[Any]]


def order(
    store_id: str, make: Any, *, placed_at: datetime, ref: str, **changes: Any
) -> OrderSnapshot:
    data: dict[str, Any] = {
        "order_id": make.new_id("order"),
        "store_id": store_id,
        "external_id": make.new_id("shop-order"),
        "placed_at": placed_at,
        "currency": "EUR",
        "financial_status": "paid",
        "customer": {"external_id": ref},
        "lines": [
            {"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": "10.00"},
            {"sku": "CAP", "name": "Cap", "quantity": 1, "unit_price": "30.00"},
        ],
        "discount_total": "10.00",
        "shipping_total": "5.00",
        "tax_total": "0.00",
        "total": "45.00",
        "net_paid": "45.00",
        "version": 1,
        **changes,
    }
    return OrderSnapshot.model_validate(data)


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, **params: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/reports/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def totals(body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = body["totals"]
    return found


async def test_late_refunds_merges_and_undos_correct_the_reports_exactly(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Publish,
    fact_stored: Wait,
    processed: Wait,
    make: Any,
    store_id: str,
) -> None:
    analyst = auth("analyst")
    settings = await client.put(
        f"/v1/stores/{store_id}/settings", json={"time_zone": "America/New_York"}, headers=analyst
    )
    assert settings.status_code == 200, settings.text
    # 03:00 UTC on 1 March is still 28 February in New York.
    first = order(store_id, make, placed_at=datetime(2023, 3, 1, 3, tzinfo=UTC), ref="ann")
    second = order(store_id, make, placed_at=datetime(2023, 3, 10, 15, tzinfo=UTC), ref="bob")
    third = order(store_id, make, placed_at=datetime(2023, 3, 20, 15, tzinfo=UTC), ref="ann")
    for placed in (first, second, third):
        await publish(make.order_event(placed))
    await fact_stored(*((o.order_id, 1) for o in (first, second, third)))
    march = {"store_id": store_id, "from": "2023-03-01", "to": "2023-04-01"}

    before = await report(client, analyst, "sales", **march)

    assert before["time_zone"] == "America/New_York"
    # Two orders in March (local): gross 2 x 50, discounts 2 x 10, shipping 2 x 5.
    assert {
        k: totals(before)[k] for k in ("orders", "gross_sales", "net_sales", "total_sales")
    } == {
        "orders": 2,
        "gross_sales": "100.00",
        "net_sales": "80.00",
        "total_sales": "90.00",
    }
    # ann's first order was in February: she returns; bob is new.
    assert (totals(before)["buyers"], totals(before)["new_buyers"]) == (2, 1)
    assert totals(before)["returning_buyers"] == 1

    # A refund processed in June counts on its own day; March keeps its sales.
    refunded_at = datetime(2023, 6, 15, 12, tzinfo=UTC)
    late = order(
        store_id,
        make,
        placed_at=second.placed_at,
        ref="bob",
        order_id=second.order_id,
        external_id=second.external_id,
        financial_status="partially_refunded",
        version=2,
        refunds=[
            {
                "amount": "12.00",
                "processed_at": refunded_at.isoformat(),
                "lines": [{"sku": "MUG", "quantity": 1, "amount": "12.00"}],
            }
        ],
    )
    refund_event = make.order_event(late, "crm.order.partially_refunded")
    await publish(refund_event)
    await fact_stored((second.order_id, 2))

    june = await report(
        client,
        analyst,
        "sales",
        store_id=store_id,
        **{"from": "2023-06-01", "to": "2023-07-01", "granularity": "month"},
    )
    march_after = await report(client, analyst, "sales", **march)

    assert (totals(june)["returns"], totals(june)["net_sales"], totals(june)["orders"]) == (
        "12.00",
        "-12.00",
        0,
    )
    assert totals(march_after)["net_sales"] == totals(before)["net_sales"]
    assert totals(march_after)["refunded_orders"] == 1
    year = {"store_id": store_id, "from": "2023-01-01", "to": "2024-01-01"}
    products = await report(client, analyst, "products", **year)
    assert {p["sku"]: (p["units"], p["net_sales"]) for p in products["products"]} == {
        # mug: 3 x 20 gross less 3 x 4 (its share, by gross, of each order's 10 off), less 12
        # returned; 6 sold, 1 back
        "MUG": (5, "36.00"),
        "CAP": (3, "72.00"),
    }

    # customer-profile attributes ann's orders to one customer and bob's to another...
    attributions = [
        make.attribution_event(order_id=o.order_id, customer_id=customer, store_id=store_id)
        for o, customer in ((first, "cust-ann"), (second, "cust-bob"), (third, "cust-ann"))
    ]
    for event in attributions:
        await publish(event)
    await processed(*attributions)
    attributed = await report(client, analyst, "sales", **march)
    assert totals(attributed) == totals(march_after)

    # ...then finds they are one person: one returning buyer in March...
    merge = make.merge_event(merged_id="cust-bob", survivor_id="cust-ann")
    await publish(merge)
    await processed(merge)
    merged = await report(client, analyst, "sales", **march)
    assert (totals(merged)["buyers"], totals(merged)["new_buyers"]) == (1, 0)
    assert totals(merged)["repeat_purchase_rate"] == "1.0000"
    cohorts = await report(client, analyst, "cohorts", **year)
    assert [
        (c["months_since_first_order"], c["customers"], c["orders"]) for c in cohorts["cohorts"]
    ] == [(0, 1, 1), (1, 1, 2)]

    # ...and undoing the merge gives every figure back, exactly; redeliveries change nothing.
    undo = make.unmerge_event(merge=merge, order_ids=[second.order_id])
    await publish(undo)
    await processed(undo)
    redelivered_order = await publish(refund_event)
    redelivered_merge = await publish(merge)
    # Markers behind the redeliveries, on their partitions: once they are in, so are those.
    marker = order(store_id, make, placed_at=datetime(2022, 1, 1, tzinfo=UTC), ref="zed")
    await publish(make.order_event(marker), partition=redelivered_order.partition)
    marker_attribution = make.attribution_event(
        order_id=marker.order_id, customer_id="cust-zed", store_id=store_id
    )
    await publish(marker_attribution, partition=redelivered_merge.partition)
    await fact_stored((marker.order_id, 1))
    await processed(marker_attribution)
    undone = await report(client, analyst, "sales", **march)
    assert undone == attributed
    assert await report(client, analyst, "products", **year) == products


async def test_every_report_in_csv_equals_its_json(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Publish,
    fact_stored: Wait,
    make: Any,
    store_id: str,
) -> None:
    viewer = auth("viewer")
    orders = [
        order(store_id, make, placed_at=datetime(2023, month, day, 12, tzinfo=UTC), ref=ref)
        for month, day, ref in ((1, 5, "a"), (1, 20, "b"), (2, 3, "a"), (3, 30, "c"))
    ]
    for placed in orders:
        await publish(make.order_event(placed))
    await fact_stored(*((o.order_id, 1) for o in orders))
    window = {"store_id": store_id, "from": "2023-01-01", "to": "2023-04-01"}
    sales = {**window, "granularity": "month", "compare": "previous_year"}

    for path, params, rows_of in (
        ("sales", sales, sales_rows),
        ("products", window, lambda body: body["products"]),
        ("cohorts", window, lambda body: body["cohorts"]),
    ):
        body = await report(client, viewer, path, **params)
        response = await client.get(
            f"/v1/reports/{path}", params=params, headers={**viewer, "Accept": "text/csv"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(response.text)))

        expected = rows_of(body)
        assert len(table) == len(expected) > 0
        for row, wanted in zip(table, expected, strict=True):
            assert row == {k: "" if v is None else str(v) for k, v in wanted.items()}


def sales_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"row": "period", **period} for period in body["series"]]
    rows.append(
        {"row": "total", "period_start": body["from"], "period_end": body["to"], **body["totals"]}
    )
    rows.append(
        {
            "row": "compare",
            "period_start": body["compare"]["from"],
            "period_end": body["compare"]["to"],
            **body["compare"]["totals"],
        }
    )
    return rows
