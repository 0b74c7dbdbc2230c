import json

import pytest
from pydantic import ValidationError
from support_ticket.sla.policies import PolicySet, SlaPolicy, TicketAttributes

TARGETS = {"first_response_seconds": 3600}


def policy(name: str, **conditions: list[str]) -> dict:
    return {"name": name, "conditions": conditions, "targets": TARGETS, "calendar_id": "office"}


POLICIES = PolicySet.model_validate(
    {
        "policies": [
            policy("urgent vip", priority=["urgent"], value_tier=["vip", "gold"]),
            policy("urgent", priority=["urgent"]),
            policy("chat in the EU store", channel=["chat"], store_id=["eu"]),
            policy("refunds", tags=["refund", "chargeback"]),
        ],
        "default": policy("everyone else"),
    }
)


def chosen(**attributes: object) -> str | None:
    found = POLICIES.select(TicketAttributes.model_validate(attributes))
    return None if found is None else found.name


def test_the_first_match_by_position_wins():
    assert chosen(priority="urgent", value_tier="vip", tags={"refund"}) == "urgent vip"
    assert chosen(priority="urgent", value_tier="bronze") == "urgent"


def test_every_condition_given_must_hold():
    assert chosen(channel="chat", store_id="eu") == "chat in the EU store"
    assert chosen(channel="chat", store_id="us") == "everyone else"
    assert chosen(channel="chat") == "everyone else"


def test_any_listed_tag_matches():
    assert chosen(tags={"shipping", "chargeback"}) == "refunds"
    assert chosen(tags={"shipping"}) == "everyone else"


def test_values_compare_exactly():
    assert chosen(priority="Urgent") == "everyone else"


def test_without_a_default_a_ticket_may_get_no_policy():
    no_default = PolicySet.model_validate({"policies": [policy("urgent", priority=["urgent"])]})

    assert no_default.select(TicketAttributes(priority="low")) is None


def test_a_policy_without_conditions_matches_every_ticket():
    catch_all = SlaPolicy.model_validate(policy("all"))

    assert catch_all.conditions.match(TicketAttributes())


def test_targets_read_as_durations():
    targets = PolicySet.model_validate_json(json.dumps(POLICIES.model_dump(mode="json")))

    assert targets == POLICIES
    assert POLICIES.policies[0].targets.first_response is not None
    assert POLICIES.policies[0].targets.first_response.total_seconds() == 3600
    assert POLICIES.policies[0].targets.resolution is None


@pytest.mark.parametrize(
    ("document", "location"),
    [
        ({"policies": [policy("a", priority=[])]}, ("policies", 0, "conditions", "priority")),
        ({"policies": [policy("a", store_id=[""])]}, ("policies", 0, "conditions", "store_id", 0)),
        ({"policies": [policy("a"), policy("a")]}, ("policies",)),
        ({"default": policy("d", channel=["chat"])}, ("default",)),
        (
            {"policies": [{**policy("a"), "targets": {}}]},
            ("policies", 0, "targets", "resolution_seconds"),
        ),
        (
            {"policies": [{**policy("a"), "targets": {"first_response_seconds": 0}}]},
            ("policies", 0, "targets", "first_response_seconds"),
        ),
        ({"policies": [{**policy("a"), "colour": "red"}]}, ("policies", 0, "colour")),
        ({"policies": [{**policy("a"), "name": "  "}]}, ("policies", 0, "name")),
    ],
)
def test_errors_name_the_field(document, location):
    with pytest.raises(ValidationError) as caught:
        PolicySet.model_validate(document)

    assert [error["loc"] for error in caught.value.errors()] == [location]
