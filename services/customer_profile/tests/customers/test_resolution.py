"""Resolution without a database: which customers an order's identities join, and how."""

from datetime import UTC, datetime, timedelta

from crm_events.customer import IdentityKind
from customer_profile.customers.identities import IdentityKey, digest, stronger_partner
from customer_profile.customers.resolution import (
    Plan,
    PlannedMerge,
    PlannedSuggestion,
    plan_resolution,
)

EMAIL = IdentityKey(IdentityKind.EMAIL, "ada@example.com")
PHONE = IdentityKey(IdentityKind.PHONE, "+14155550100")
REF = IdentityKey(IdentityKind.STORE_REF, "c-1", "store-a")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def created(**ages: int) -> dict[str, datetime]:
    """`created(a=0, b=1)`: customer a created at T0, b a day later."""
    return {name: T0 + timedelta(days=days) for name, days in ages.items()}


def plan(
    owners: dict[IdentityKey, str],
    *,
    keys: tuple[IdentityKey, ...] = (EMAIL, PHONE, REF),
    shared: frozenset[IdentityKey] = frozenset(),
    stored: str | None = None,
    ages: dict[str, datetime] | None = None,
) -> Plan:
    return plan_resolution(
        keys=list(keys),
        owners=owners,
        shared=shared,
        stored_customer=stored,
        created=ages
        or created(**dict.fromkeys({*owners.values(), *([stored] if stored else [])}, 0)),
    )


def test_unknown_identities_make_a_new_customer_with_all_of_them() -> None:
    assert plan({}) == Plan(None, links=(EMAIL, PHONE, REF), own=frozenset({EMAIL, PHONE, REF}))


def test_a_known_identity_links_the_others_to_its_customer() -> None:
    result = plan({PHONE: "a"})
    assert (result.target, result.merges, result.links) == ("a", (), (EMAIL, REF))
    assert result.own == {EMAIL, PHONE, REF}


def test_identities_of_two_customers_merge_the_newer_into_the_older() -> None:
    # The phone's customer is older, so it survives although the email ranks higher.
    result = plan({EMAIL: "b", PHONE: "a"}, ages=created(a=0, b=1))
    assert result.target == "a"
    assert result.merges == (PlannedMerge("a", "b", EMAIL),)
    assert result.links == (REF,)
    assert result.own == {EMAIL, PHONE, REF}


def test_equal_ages_fall_back_to_the_customer_id() -> None:
    result = plan({EMAIL: "b", PHONE: "a"}, ages=created(a=0, b=0))
    assert result.merges == (PlannedMerge("a", "b", EMAIL),)


def test_three_customers_joined_by_one_order_give_two_merges_into_the_oldest() -> None:
    result = plan({EMAIL: "c", PHONE: "a", REF: "b"}, ages=created(a=0, b=1, c=2))
    assert result.target == "a"
    assert result.merges == (PlannedMerge("a", "b", REF), PlannedMerge("a", "c", EMAIL))
    assert result.links == ()


def test_an_order_attributed_before_brings_its_customer_along() -> None:
    # The order's first customer is newer than the email's: it merges, joined by the email.
    result = plan({EMAIL: "a"}, stored="b", ages=created(a=0, b=1))
    assert result.target == "a"
    assert result.merges == (PlannedMerge("a", "b", EMAIL),)
    older_stored = plan({EMAIL: "a"}, stored="b", ages=created(a=1, b=0))
    assert older_stored.merges == (PlannedMerge("b", "a", EMAIL),)


def test_a_shared_identity_neither_merges_nor_links_but_suggests() -> None:
    result = plan({EMAIL: "b", PHONE: "a"}, shared=frozenset({PHONE}), ages=created(a=0, b=1))
    assert result.target == "b"
    assert result.merges == ()
    assert result.suggestions == (PlannedSuggestion("a", PHONE),)
    assert result.own == {EMAIL, REF}

    unowned = plan({EMAIL: "b"}, shared=frozenset({PHONE}))
    assert unowned.links == (REF,)
    assert unowned.suggestions == ()
    assert PHONE not in unowned.own


def test_a_shared_identity_of_the_orders_own_customer_suggests_nothing() -> None:
    result = plan({EMAIL: "a", PHONE: "a"}, shared=frozenset({PHONE}))
    assert (result.target, result.suggestions) == ("a", ())
    assert PHONE in result.own


def test_an_order_with_only_shared_identities_makes_an_unlinked_customer() -> None:
    result = plan({PHONE: "a"}, keys=(PHONE,), shared=frozenset({PHONE}))
    assert result == Plan(None, suggestions=(PlannedSuggestion("a", PHONE),))


def test_the_stronger_partner_of_an_identity() -> None:
    assert stronger_partner([EMAIL, PHONE, REF], EMAIL) is None
    assert stronger_partner([EMAIL, PHONE, REF], PHONE) == EMAIL
    assert stronger_partner([EMAIL, PHONE, REF], REF) == EMAIL
    assert stronger_partner([PHONE, REF], REF) == PHONE
    assert stronger_partner([REF], REF) is None


def test_digests_tell_kinds_and_stores_apart() -> None:
    assert digest(EMAIL) == digest(IdentityKey(IdentityKind.EMAIL, "ada@example.com"))
    other_store = IdentityKey(IdentityKind.STORE_REF, "c-1", "store-b")
    same_value = IdentityKey(IdentityKind.STORE_REF, "ada@example.com", "store-a")
    assert len({digest(EMAIL), digest(REF), digest(other_store), digest(same_value)}) == 4
