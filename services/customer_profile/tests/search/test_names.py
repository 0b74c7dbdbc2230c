"""The names blind index: normalisation, prefixes and query words."""

from customer_profile.search import names


def test_names_are_folded_stripped_of_accents_and_split_into_words() -> None:
    assert names.words("  Ångström ") == ["angstrom"]
    assert names.words("JEAN-LUC") == ["jean", "luc"]
    assert names.words("O'Brien") == ["obrien"]
    assert names.words("O\u2019Brien") == ["obrien"]
    assert names.words("Zoë Šťastná") == ["zoe", "stastna"]
    assert names.words("Søren Łukasz") == ["soren", "lukasz"]
    assert names.words("Straße") == ["strasse"]
    assert names.words("İpek") == ["ipek"]
    assert names.words("\uff21\uff2e\uff2e") == ["ann"]  # full-width
    assert names.words("van der Berg") == ["van", "der", "berg"]
    assert names.words("李 小龍") == ["李", "小龍"]
    assert names.words(None) == []
    assert names.words(" - ") == []


def test_every_prefix_of_every_word_up_to_the_maximum() -> None:
    assert names.prefixes("Ann", "Lee") == {"a", "an", "ann", "l", "le", "lee"}
    long = "Wolfeschlegelsteinhausen"
    found = names.prefixes(long, None)
    assert max(len(p) for p in found) == names.PREFIX_MAX
    assert found == {long.lower()[:n] for n in range(1, names.PREFIX_MAX + 1)}


def test_shared_prefixes_give_one_term() -> None:
    assert names.prefixes("Anna", "Anderson") >= {"a", "an"}
    assert len(names.terms("Anna", "Anderson")) == len(names.prefixes("Anna", "Anderson"))


def test_words_beyond_the_maximum_are_not_indexed() -> None:
    many = " ".join(f"w{i}" for i in range(names.WORDS_MAX + 3))
    assert "w9" not in names.prefixes(many)
    assert "w7" in names.prefixes(many)


def test_a_query_is_cut_like_the_index() -> None:
    assert names.query_words("Wolfeschlegelsteinhausen") == ["wolfeschlege"]
    assert names.query_words("ANN ann Lé") == ["ann", "le"]
    query = names.query_terms(names.query_words("Ångs"))
    assert query[0] in names.terms("Ångström", "Lee")
    assert names.query_terms(["angx"])[0] not in names.terms("Ångström", "Lee")


def test_terms_are_keyed_digests_of_their_own_purpose() -> None:
    term = names.term("ann")
    assert len(term) == names.TERM_BYTES
    assert term != names.term("anna")
    assert b"ann" not in term
