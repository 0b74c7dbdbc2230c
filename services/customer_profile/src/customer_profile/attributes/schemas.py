from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from customer_profile.attributes.rules import TAGS_MAX, normalise_tag

Tag = Annotated[str, AfterValidator(normalise_tag)]
"""Trimmed and lower-cased; 1 to 64 characters, no control characters."""


class TagOperations(BaseModel):
    """Either `set` (the whole set of tags), or `add` and/or `remove`, never both kinds."""

    model_config = ConfigDict(extra="forbid")

    set: list[Tag] | None = Field(default=None, max_length=TAGS_MAX)
    add: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    remove: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.set is not None and (self.add or self.remove):
            raise ValueError("give either set, or add and remove, not both")
        if both := sorted(set(self.add) & set(self.remove)):
            raise ValueError(f"tags both added and removed: {', '.join(both)}")
        return self


class CustomerPatch(BaseModel):
    """The body of `PATCH /v1/customers/{id}` (`application/merge-patch+json`)."""

    model_config = ConfigDict(extra="forbid")

    traits: dict[str, Any] | None = None
    """An RFC 7396 merge patch of the traits: `{"size": "M", "old_key": null}` sets `size` and
    removes `old_key`; nested objects merge the same way; `null` instead of an object removes
    every trait."""
    tags: TagOperations | None = None


class AttributesRead(BaseModel):
    """A customer's tags and traits after a change."""

    customer_id: str
    tags: list[str]
    traits: dict[str, Any]
    version: int
    """The customer's version (it grows when the tags or traits change)."""
    updated_at: datetime
    changed: bool
    """False when the patch left everything as it was (no new version, no event)."""
