import json
from typing import Any

import pytest
from crm_common.contracts import EventContract
from crm_events import topics
from crm_events.customer import CustomerSnapshot
from crm_events.insight import CUSTOMER_PREDICTED, CustomerPredicted
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS, SCHEMAS_DIR, model_for
from crm_events.shop import CanonicalOrder
from jsonschema import Draft202012Validator
from pydantic import ValidationError

EXPECTED_TYPES = {
    "shop.order.upserted": topics.SHOP_ORDERS,
    "crm.order.placed": topics.CRM_ORDERS,
    "crm.order.paid": topics.CRM_ORDERS,
    "crm.order.fulfilled": topics.CRM_ORDERS,
    "crm.order.cancelled": topics.CRM_ORDERS,
    "crm.order.refunded": topics.CRM_ORDERS,
    "crm.order.updated": topics.CRM_ORDERS,
    "crm.order.partially_refunded": topics.CRM_ORDERS,
    "crm.order.shipment_updated": topics.CRM_ORDERS,
    "crm.order.delivered": topics.CRM_ORDERS,
    "crm.order.returned": topics.CRM_ORDERS,
    "shop.cart.updated": topics.SHOP_ACTIVITY,
    "shop.checkout.started": topics.SHOP_ACTIVITY,
    "shop.customer.identified": topics.SHOP_ACTIVITY,
    "shop.customer.upserted": topics.SHOP_ACTIVITY,
    "shop.product.viewed": topics.SHOP_ACTIVITY,
    "crm.cart.updated": topics.CRM_CARTS,
    "crm.checkout.started": topics.CRM_CARTS,
    "crm.checkout.abandoned": topics.CRM_CARTS,
    "crm.inventory.stock_changed": topics.CRM_INVENTORY,
    "crm.inventory.low_stock": topics.CRM_INVENTORY,
    "crm.customer.created": topics.CRM_CUSTOMERS,
    "crm.customer.updated": topics.CRM_CUSTOMERS,
    "crm.customer.identity_linked": topics.CRM_CUSTOMERS,
    "crm.customer.order_attributed": topics.CRM_CUSTOMERS,
    "crm.customer.merged": topics.CRM_CUSTOMERS,
    "crm.customer.erased": topics.CRM_CUSTOMERS,
    "crm.customer.unmerged": topics.CRM_CUSTOMERS,
    "crm.customer.consent_changed": topics.CRM_CUSTOMERS,
    "crm.customer.ticket_attributed": topics.CRM_CUSTOMERS,
    **dict.fromkeys(
        (
            "crm.message.sent",
            "crm.message.delivered",
            "crm.message.opened",
            "crm.message.clicked",
            "crm.message.bounced",
            "crm.message.complained",
            "crm.message.unsubscribed",
            "crm.message.withheld",
            "crm.message.conversion_attributed",
            "crm.coupon.issued",
            "crm.coupon.redeemed",
        ),
        topics.CRM_MESSAGES,
    ),
    **dict.fromkeys(
        (
            "crm.ticket.created",
            "crm.ticket.updated",
            "crm.ticket.solved",
            "crm.ticket.sla_warning",
            "crm.ticket.sla_breached",
            "crm.ticket.csat_given",
            "crm.ticket.status_changed",
            "crm.ticket.assigned",
            "crm.ticket.replied",
            "crm.ticket.merged",
            "crm.ticket.unmerged",
            "crm.ticket.split",
            "crm.ticket.action_requested",
        ),
        topics.CRM_TICKETS,
    ),
    "crm.segment.entered": topics.CRM_SEGMENTS,
    "crm.segment.exited": topics.CRM_SEGMENTS,
    "crm.customer.predicted": topics.CRM_INSIGHTS,
}


def test_every_contract_is_registered_on_its_topic() -> None:
    assert {contract.type: contract.topic for contract in CONTRACTS} == EXPECTED_TYPES
    assert all(contract.version == 1 for contract in CONTRACTS)


def test_model_for() -> None:
    assert model_for("shop.order.upserted") is CanonicalOrder
    assert issubclass(model_for("crm.order.refunded"), OrderSnapshot)
    assert issubclass(model_for("crm.customer.updated"), CustomerSnapshot)


def test_topics_and_dead_letter_names() -> None:
    assert topics.SHOP_ORDERS == "shop.orders.v1"
    assert topics.CRM_INSIGHTS == "crm.insights.v1"
    assert topics.CRM_SEGMENTS == "crm.segments.v1"
    assert len(set(topics.ALL_TOPICS)) == 10
    assert topics.dlq(topics.CRM_ORDERS) == "crm.orders.v1.dlq"


def test_committed_schemas_match_the_models() -> None:
    assert CONTRACTS.drift() == []


@pytest.mark.parametrize("contract", list(CONTRACTS), ids=lambda c: c.type)
def test_committed_example_validates(contract: EventContract[Any]) -> None:
    schema = json.loads((SCHEMAS_DIR / contract.path).read_text())
    example = json.loads((SCHEMAS_DIR / contract.example_path).read_text())

    Draft202012Validator.check_schema(schema)
    CONTRACTS.validate(example)
    event = CONTRACTS.parse(json.dumps(example).encode())
    assert isinstance(event.data, contract.model)
    assert event.subject == contract.key_of(event.data)
    assert json.loads(event.data.model_dump_json()) == example["data"]


@pytest.mark.parametrize("contract", list(CONTRACTS), ids=lambda c: c.type)
def test_schema_names_its_type_and_topic(contract: EventContract[Any]) -> None:
    schema = CONTRACTS.json_schema(contract)

    assert schema["$id"].endswith(f"/{contract.domain}/{contract.type}.v1.json")
    assert schema["properties"]["type"]["const"] == contract.type
    assert schema["x-topic"] == contract.topic
    assert schema["description"]


@pytest.mark.parametrize("value", ["0", "0.87", "1", "1.00"])
def test_a_probability_is_a_decimal_string_from_0_to_1(value: str) -> None:
    prediction = CustomerPredicted.model_validate(
        {**CUSTOMER_PREDICTED.example, "probability_alive": value}
    )
    assert prediction.model_dump(mode="json")["probability_alive"] == value


@pytest.mark.parametrize("value", ["1.01", "-0.1", "2", 0.5, "", ".5"])
def test_anything_else_is_no_probability(value: object) -> None:
    with pytest.raises(ValidationError, match="probability"):
        CustomerPredicted.model_validate({**CUSTOMER_PREDICTED.example, "probability_alive": value})
