"""Merge patches, tag operations, bounds and the survivorship of tags and traits."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_profile.attributes.rules import (
    TAG_MAX_LENGTH,
    TRAITS_MAX_BYTES,
    merge_patch,
    merge_traits,
    normalise_tag,
    tag_change,
    traits_size,
    unmerge_traits,
)
from customer_profile.attributes.schemas import CustomerPatch
from pydantic import ValidationError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# The test cases of RFC 7396, appendix A.
@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_merge_patch_leaves_its_arguments_alone() -> None:
    target = {"a": {"b": 1}}
    merge_patch(target, {"a": {"b": None, "c": 2}})
    assert target == {"a": {"b": 1}}


def test_big_integers_stay_exact() -> None:
    shopify_id = 2**60 + 1
    assert merge_patch({}, {"shop_customer": shopify_id}) == {"shop_customer": shopify_id}


def test_traits_are_measured_as_compact_utf8_json() -> None:
    assert traits_size({"a": "é"}) == len('{"a":"é"}'.encode())
    assert traits_size({"k": "x" * TRAITS_MAX_BYTES}) > TRAITS_MAX_BYTES


@pytest.mark.parametrize(
    ("raw", "tag"), [(" VIP ", "vip"), ("Early Bird", "early bird"), ("Cafe\u0301", "café")]
)
def test_tags_are_trimmed_lower_cased_and_composed(raw: str, tag: str) -> None:
    assert normalise_tag(raw) == tag


@pytest.mark.parametrize("raw", ["", "   ", "x" * (TAG_MAX_LENGTH + 1), "a\nb", "a\u200bb"])
def test_empty_long_or_control_tags_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="tag"):
        normalise_tag(raw)


def test_add_and_remove_change_only_what_they_name() -> None:
    change = tag_change({"vip", "trial"}, add=["wholesale", "vip"], remove=["trial", "absent"])
    assert change.add == {"wholesale"}
    assert change.remove == {"trial"}
    assert change.keep_explicit == {"vip"}


def test_set_replaces_the_whole_set() -> None:
    change = tag_change({"vip", "trial"}, set_to=["vip", "new"])
    assert (change.add, change.remove, change.keep_explicit) == ({"new"}, {"trial"}, {"vip"})
    assert tag_change({"vip"}, set_to=[]).remove == {"vip"}
    assert tag_change({"vip"}, set_to=["vip"]).empty


def test_a_patch_names_set_or_add_and_remove_never_both() -> None:
    patch = CustomerPatch.model_validate({"tags": {"add": [" VIP"], "remove": ["Trial"]}})
    assert patch.tags is not None
    assert (patch.tags.add, patch.tags.remove) == (["vip"], ["trial"])
    with pytest.raises(ValidationError, match="either set, or add and remove"):
        CustomerPatch.model_validate({"tags": {"set": ["a"], "add": ["b"]}})
    with pytest.raises(ValidationError, match="both added and removed: vip"):
        CustomerPatch.model_validate({"tags": {"add": ["VIP"], "remove": ["vip"]}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        CustomerPatch.model_validate({"tags": {"replace": ["a"]}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        CustomerPatch.model_validate({"email": "someone@example.com"})


def test_a_null_traits_patch_is_told_apart_from_none_given() -> None:
    assert "traits" in CustomerPatch.model_validate({"traits": None}).model_fields_set
    assert "traits" not in CustomerPatch.model_validate({}).model_fields_set


def test_a_merge_takes_missing_keys_and_keeps_the_survivors_when_it_changed_last() -> None:
    merged = merge_traits({"size": "M", "a": 1}, T0 + timedelta(days=1), {"size": "L", "b": 2}, T0)
    assert merged.traits == {"size": "M", "a": 1, "b": 2}
    assert merged.changes == {"b": {"before": [], "after": 2}}
    assert merged.updated_at == T0 + timedelta(days=1)


def test_a_merge_takes_the_merged_customers_values_when_it_changed_last() -> None:
    merged = merge_traits({"size": "M", "a": 1}, T0, {"size": "L", "a": 1}, T0 + timedelta(days=1))
    assert merged.traits == {"size": "L", "a": 1}
    assert merged.changes == {"size": {"before": ["M"], "after": "L"}}
    assert merged.updated_at == T0 + timedelta(days=1)


def test_a_tie_keeps_the_survivors_value() -> None:
    assert merge_traits({"size": "M"}, T0, {"size": "L"}, T0).traits == {"size": "M"}
    assert merge_traits({"size": "M"}, None, {"size": "L"}, None).traits == {"size": "M"}


def test_an_undo_restores_what_nobody_changed_since() -> None:
    merged = merge_traits(
        {"size": "M", "kept": True}, T0, {"size": "L", "new": 1, "later": "x"}, T0 + timedelta(1)
    )
    after_merge = merged.traits
    after_merge = merge_patch(after_merge, {"later": "changed by a patch"})
    restored = unmerge_traits(after_merge, merged.changes)
    assert restored == {"size": "M", "kept": True, "later": "changed by a patch"}


def test_an_undo_keeps_a_key_removed_since() -> None:
    merged = merge_traits({}, None, {"new": 1}, T0)
    assert unmerge_traits({}, merged.changes) == {}


def test_undo_compares_json_values_not_python_ones() -> None:
    # In Python True == 1; in JSON they differ, so a patch from 1 to true is a change.
    merged = merge_traits({}, None, {"flag": 1}, T0)
    assert unmerge_traits({"flag": True}, merged.changes) == {"flag": True}
