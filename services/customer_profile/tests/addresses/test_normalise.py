"""When two addresses are the same place."""

from customer_profile.addresses.normalise import comparable, fingerprint

HOME = {
    "name": "Ann Lee",
    "line1": "12 Rue de l'Église",
    "line2": None,
    "city": "Besançon",
    "region": None,
    "postal_code": "25000",
    "country": "FR",
}


def test_case_accents_punctuation_and_spacing_do_not_matter() -> None:
    typed_again = {
        **HOME,
        "name": "A. LEE",
        "line1": "12  rue de l Eglise",
        "city": "BESANCON",
        "postal_code": " 25 000 ",
    }
    assert comparable(typed_again) == comparable(HOME)
    assert fingerprint(comparable(typed_again) or ()) == fingerprint(comparable(HOME) or ())


def test_another_place_is_another_address() -> None:
    assert comparable({**HOME, "line1": "14 Rue de l'Église"}) != comparable(HOME)
    assert comparable({**HOME, "country": "CH"}) != comparable(HOME)
    assert comparable({**HOME, "line2": "Apt 3"}) != comparable(HOME)


def test_an_address_naming_no_place_is_none() -> None:
    assert comparable({"name": "Ann Lee"}) is None
    assert comparable({"line1": "  ", "city": ""}) is None


def test_a_country_alone_is_no_address() -> None:
    assert comparable({"country": "US", "region": "CA"}) is None
    assert comparable({"country": "US", "postal_code": "94105"}) is not None
