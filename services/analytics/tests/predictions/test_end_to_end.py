"""Lifetime-value predictions on real Kafka and PostgreSQL: a store's orders and attributions in
on the real topics, a fit, the model card, each customer's predictions served and published on
crm.insights.v1, and a fit on a past date checked against what followed."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer
from analytics.config import Settings
from crm_common.testing.plugin import Poll
from crm_events.insight import CustomerPredicted
from crm_events.registry import CONTRACTS

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def purchases(seed: int, customers: int, now: datetime) -> list[tuple[str, datetime, str]]:
    """(customer, placed at, net paid) of buyers who keep buying at their own rate until they
    leave, their first orders spread over the last 300 days."""
    rng = np.random.default_rng(seed)
    orders = []
    for number in range(customers):
        customer = f"cust-{seed}-{number}"
        placed = now - DAY * float(rng.uniform(1, 300))
        rate, leave = rng.gamma(1.5, 1 / 40), rng.beta(1, 4)
        while placed < now:
            orders.append((customer, placed, f"{rng.gamma(4, 10):.2f}"))
            placed += DAY * float(rng.exponential(1 / rate))
            if rng.random() < leave:
                break
    return orders


async def test_a_store_is_fitted_and_its_customers_predicted(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    database: asyncpg.Connection,
    eventually: Poll,
    settings: Settings,
    kafka_bootstrap: str,
    make: Any,
    store_id: str,
) -> None:
    now = datetime.now(UTC)
    bought = purchases(7, 120, now)
    # One customer's own story: two orders, then one cancelled and one fully refunded.
    special = f"{store_id}-special"
    bought += [(special, now - 40 * DAY, "30.00"), (special, now - 10 * DAY, "50.00")]
    snapshots = [
        make.order(store_id=store_id, placed_at=at, net_paid=paid, customer_ref=customer)
        for customer, at, paid in bought
    ]
    cancelled = make.order(
        store_id=store_id,
        placed_at=now - 5 * DAY,
        customer_ref=special,
        cancelled_at=now - 4 * DAY,
    )
    refunded = make.order(
        store_id=store_id, placed_at=now - 5 * DAY, net_paid="0", customer_ref=special
    )
    snapshots += [cancelled, refunded]
    for snapshot in snapshots:
        await publish(make.order_event(snapshot))
        await publish(
            make.attribution_event(
                order_id=snapshot.order_id,
                customer_id=snapshot.customer.external_id,
                store_id=store_id,
            )
        )

    async def all_attributed() -> bool:
        count = await database.fetchval(
            "SELECT count(*) FROM order_facts WHERE store_id = $1 AND customer_id IS NOT NULL",
            store_id,
        )
        return bool(count == len(snapshots))

    await eventually(all_attributed, timeout=90)
    customers = {customer for customer, _, _ in bought}
    analyst = auth("analyst")

    fitted = await client.post(
        "/v1/models/clv:fit", json={"store_id": store_id}, headers=analyst, timeout=120
    )

    assert fitted.status_code == 200, fitted.text
    card = fitted.json()
    assert card["converged"] is True
    assert card["version"] == 1
    assert card["time_unit"] == "day"
    assert card["currency"] == "USD"
    assert card["customers"] == len(customers)
    assert card["holdout"] is None
    selected = [model for model in card["models"] if model["selected"]]
    assert [m["model"] for m in selected][-1] == "gamma-gamma"
    assert selected[0]["model"] in {"bg-nbd", "pareto-nbd"}
    for model in selected:
        assert model["converged"]
        assert all(value > 0 for value in model["parameters"].values())
        assert all(error > 0 for error in model["standard_errors"].values())
    current = await client.get("/v1/models/clv", params={"store_id": store_id}, headers=analyst)
    assert current.status_code == 200
    assert current.json() == card

    served = await client.get(f"/v1/customers/{special}/predictions", headers=auth("marketer"))

    assert served.status_code == 200, served.text
    (prediction,) = served.json()["predictions"]
    assert prediction["store_id"] == store_id
    # Cancelled orders do not count; the refunded one does, as an order worth nothing.
    assert prediction["orders"] == 3
    assert 0 <= Decimal(prediction["probability_alive"]) <= 1
    assert Decimal(prediction["expected_orders_90d"]) <= Decimal(prediction["expected_orders_365d"])
    assert Decimal(prediction["predicted_clv"]) > 0
    assert prediction["horizon_days"] == settings.clv_horizon_days
    assert prediction["churn_risk"] in {"low", "medium", "high"}
    assert prediction["model"] == f"{selected[0]['model']}+gamma-gamma/1"
    assert prediction["version"] == 1

    published = await read_predictions(settings.insights_topic, kafka_bootstrap, customers)
    assert set(published) == customers
    for customer_id, (key, event) in published.items():
        assert key == customer_id == event.subject
        data = event.data
        assert isinstance(data, CustomerPredicted)
        assert data.store_id == store_id
        assert data.version == 1
        assert data.horizon_days == settings.clv_horizon_days
    special_event = published[special][1].data
    assert format(special_event.predicted_clv, "f") == prediction["predicted_clv"]

    refitted = await client.post(
        "/v1/models/clv:fit", json={"store_id": store_id}, headers=analyst, timeout=120
    )
    assert refitted.json()["version"] == 2
    again = await client.get(f"/v1/customers/{special}/predictions", headers=analyst)
    assert again.json()["predictions"][0]["version"] == 2


async def test_a_fit_on_a_past_date_is_checked_against_what_followed(
    client: httpx.AsyncClient,
    auth: Callable[..., dict[str, str]],
    publish: Callable[..., Awaitable[Any]],
    database: asyncpg.Connection,
    eventually: Poll,
    make: Any,
    store_id: str,
) -> None:
    now = datetime.now(UTC)
    bought = purchases(11, 150, now)
    snapshots = [
        make.order(store_id=store_id, placed_at=at, net_paid=paid, customer_ref=customer)
        for customer, at, paid in bought
    ]
    for snapshot in snapshots:
        await publish(make.order_event(snapshot))

    async def all_stored() -> bool:
        count = await database.fetchval(
            "SELECT count(*) FROM order_facts WHERE store_id = $1", store_id
        )
        return bool(count == len(snapshots))

    await eventually(all_stored, timeout=90)
    cutoff = now - 60 * DAY
    before = {customer for customer, at, _ in bought if at < cutoff}
    after = {(customer, at.date()) for customer, at, _ in bought if at >= cutoff}
    repeat_days_after = sum(1 for customer, _ in after if customer in before)
    analyst = auth("analyst")

    checked = await client.post(
        "/v1/models/clv:fit",
        json={"store_id": store_id, "observed_until": cutoff.isoformat()},
        headers=analyst,
        timeout=120,
    )

    assert checked.status_code == 200, checked.text
    card = checked.json()
    assert card["version"] is None
    assert card["customers"] == len(before)
    holdout = card["holdout"]
    assert holdout["customers"] == len(before)
    assert holdout["length"] == pytest.approx(60, abs=0.01)
    # Buyers known before the cutoff, unattributed (the shop's own ids), counted per day.
    assert holdout["actual"] == repeat_days_after
    assert holdout["predicted"] > 0
    rows = holdout["by_frequency"]
    assert sum(row["customers"] for row in rows) == len(before)
    assert rows[0]["frequency"] == "0"
    # The past fit does not replace the current model (there is none yet).
    absent = await client.get("/v1/models/clv", params={"store_id": store_id}, headers=analyst)
    assert absent.status_code == 404
    assert absent.headers["content-type"] == "application/problem+json"


async def test_bad_fit_requests_are_problems(
    client: httpx.AsyncClient, auth: Callable[..., dict[str, str]], store_id: str
) -> None:
    analyst = auth("analyst")
    future = (datetime.now(UTC) + DAY).isoformat()

    late = await client.post(
        "/v1/models/clv:fit",
        json={"store_id": store_id, "observed_until": future},
        headers=analyst,
    )
    naive = await client.post(
        "/v1/models/clv:fit",
        json={"store_id": store_id, "observed_until": "2026-01-01T00:00:00"},
        headers=analyst,
    )
    empty = await client.post("/v1/models/clv:fit", json={"store_id": store_id}, headers=analyst)
    nobody = await client.get("/v1/customers/nobody/predictions", headers=analyst)

    for response in (late, naive):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "observed_until" in json.dumps(response.json())
    assert empty.status_code == 404
    assert store_id in empty.json()["detail"]
    assert nobody.status_code == 404


async def read_predictions(
    topic: str, bootstrap: str, customers: set[str]
) -> dict[str, tuple[str, Any]]:
    """The crm.customer.predicted events on `topic`, validated against the contract, by
    customer, until every one of `customers` has one."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: dict[str, tuple[str, Any]] = {}
    try:
        async with asyncio.timeout(60):
            while not customers <= found.keys():
                record = await consumer.getone()
                event = CONTRACTS.parse(record.value)
                CONTRACTS.validate(json.loads(record.value))
                found[event.data.customer_id] = (record.key.decode(), event)
    finally:
        await consumer.stop()
    return found
