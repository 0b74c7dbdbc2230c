"""The contract analytics publishes predictions in, built from its own rows."""

from typing import Any

from crm_common.envelope import CloudEvent
from crm_events.insight import CUSTOMER_PREDICTED, ChurnRisk, CustomerPredicted


def customer_predicted(row: dict[str, Any], *, version: int) -> CloudEvent[CustomerPredicted]:
    """`crm.customer.predicted` of a `customer_predictions` row: the expected orders and value
    over the row's horizon."""
    data = CustomerPredicted(
        customer_id=row["customer_id"],
        store_id=row["store_id"],
        currency=row["currency"],
        orders=row["orders"],
        predicted_clv=row["predicted_clv"],
        expected_orders=row["expected_orders_horizon"],
        horizon_days=row["horizon_days"],
        probability_alive=row["probability_alive"],
        churn_risk=ChurnRisk(row["churn_risk"]),
        next_order_expected_at=row["next_order_expected_at"],
        model=row["model"],
        computed_at=row["computed_at"],
        version=version,
    )
    return CUSTOMER_PREDICTED.event(data, time=row["computed_at"])
