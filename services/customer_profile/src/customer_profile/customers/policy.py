"""How identities resolve: the junk guard, the shared-identity limit and the merge participants."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Self

from customer_profile.config import Settings
from customer_profile.customers.identities import DEFAULT_GUARD, IdentityGuard
from customer_profile.customers.participants import MergeParticipant

DEFAULT_SHARED_IDENTITY_LIMIT = 3


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    guard: IdentityGuard = DEFAULT_GUARD
    shared_identity_limit: int = DEFAULT_SHARED_IDENTITY_LIMIT
    """A value seen with more distinct people than this neither links nor merges any more."""
    participants: tuple[MergeParticipant, ...] = field(default=())

    @classmethod
    def from_settings(
        cls, settings: Settings, *, participants: Sequence[MergeParticipant] = ()
    ) -> Self:
        return cls(
            guard=IdentityGuard.of(
                values=settings.identity_blocklist,
                patterns=settings.identity_blocked_patterns,
                phone_min_digits=settings.phone_min_digits,
            ),
            shared_identity_limit=settings.shared_identity_limit,
            participants=tuple(participants),
        )


DEFAULT_POLICY = IdentityPolicy()
