import pytest
from crm_events.customer import IdentityKind
from customer_profile.customers.exceptions import InvalidLookup
from customer_profile.customers.identities import IdentityKey
from customer_profile.customers.service import lookup_key

NONE = {"email": None, "phone": None, "region": None, "store_id": None, "external_id": None}


def lookup(**given: str) -> IdentityKey:
    return lookup_key(**{**NONE, **given})


def fields(error: InvalidLookup) -> set[str]:
    return {item["field"] for item in error.errors or []}


def test_each_lookup_names_its_identity() -> None:
    assert lookup(email=" ADA@example.com") == IdentityKey(IdentityKind.EMAIL, "ada@example.com")
    assert lookup(phone="(415) 555-0100", region="US") == IdentityKey(
        IdentityKind.PHONE, "+14155550100"
    )
    assert lookup(phone="+1 415 555 0100") == IdentityKey(IdentityKind.PHONE, "+14155550100")
    assert lookup(store_id="s", external_id="c-1") == IdentityKey(
        IdentityKind.STORE_REF, "c-1", "s"
    )


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"email": "ada@example.com", "phone": "+14155550100"},
        {"email": "ada@example.com", "store_id": "s", "external_id": "c"},
    ],
)
def test_anything_but_exactly_one_lookup_is_rejected(given: dict[str, str]) -> None:
    with pytest.raises(InvalidLookup) as caught:
        lookup(**given)
    assert caught.value.status == 422
    assert fields(caught.value) == {
        "query.email",
        "query.phone",
        "query.store_id",
        "query.external_id",
    }


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"store_id": "s"}, "query.external_id"),
        ({"external_id": "c"}, "query.store_id"),
        ({"email": "nope"}, "query.email"),
        ({"phone": "(415) 555-0100"}, "query.phone"),
        ({"email": "ada@example.com", "region": "US"}, "query.region"),
    ],
)
def test_incomplete_or_invalid_lookup_names_the_parameter(
    given: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidLookup) as caught:
        lookup(**given)
    assert fields(caught.value) == {field}
