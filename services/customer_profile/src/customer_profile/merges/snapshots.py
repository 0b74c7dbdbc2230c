"""The JSON a merge log entry keeps, and identities to and from it."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from crm_events.customer import Identity, IdentityKind

from customer_profile.customers.identities import IdentityKey


class IdentityJson(TypedDict):
    kind: str
    value: str
    store_id: str | None


def identity_json(key: IdentityKey) -> IdentityJson:
    return {"kind": key.kind.value, "value": key.value, "store_id": key.store_id}


def identity_key(item: Mapping[str, Any]) -> IdentityKey:
    return IdentityKey(IdentityKind(item["kind"]), item["value"], item.get("store_id") or None)


def contract_identity(key: IdentityKey) -> Identity:
    return Identity(kind=key.kind, value=key.value, store_id=key.store_id)


def identities_json(keys: Iterable[IdentityKey]) -> list[IdentityJson]:
    return [identity_json(key) for key in keys]


def identity_keys(items: Sequence[Mapping[str, Any]]) -> list[IdentityKey]:
    return [identity_key(item) for item in items]
