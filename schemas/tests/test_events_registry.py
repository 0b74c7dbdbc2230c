import json
from typing import Any

import pytest
from crm_common.contracts import EventContract
from crm_events import topics
from crm_events.customer import CustomerSnapshot
from crm_events.order import OrderSnapshot
from crm_events.registry import CONTRACTS, SCHEMAS_DIR, model_for
from crm_events.shop import CanonicalOrder
from jsonschema import Draft202012Validator

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
    assert len(set(topics.ALL_TOPICS)) == 9
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
