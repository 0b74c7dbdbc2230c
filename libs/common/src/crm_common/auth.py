"""Bearer-JWT authentication with roles.

Tokens are signed by an identity provider (or `make token` in development) with a private key;
services hold only the public key, so a compromised service cannot mint tokens.
"""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Request

from crm_common.problems import Forbidden, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    AGENT = "agent"
    ANALYST = "analyst"
    VIEWER = "viewer"


ALL_ROLES = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    roles: frozenset[Role]

    def has_any(self, roles: frozenset[Role]) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles & roles)


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    public_key: str
    algorithm: str
    issuer: str
    audience: str

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("the bearer token has expired") from error
        except jwt.PyJWTError as error:
            raise Unauthorized(f"the bearer token is invalid: {error}") from error
        raw_roles = claims.get("roles", [])
        if not isinstance(raw_roles, list):
            raise Unauthorized("the bearer token's roles claim must be a list")
        roles = frozenset(Role(r) for r in raw_roles if r in ALL_ROLES)
        return Principal(subject=str(claims["sub"]), roles=roles)


def issue_token(
    private_key: str,
    *,
    subject: str,
    roles: list[str],
    issuer: str = "crm-suite",
    audience: str = "crm-suite",
    ttl: timedelta = timedelta(hours=12),
    algorithm: str = "RS256",
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "roles": roles,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, private_key, algorithm=algorithm)


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return token.strip()


def requires(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency admitting callers holding any of `roles` (admin always passes)."""
    wanted = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = verifier.verify(_bearer_token(request))
        if not principal.has_any(wanted):
            raise Forbidden(
                f"this needs one of the roles {', '.join(sorted(wanted))}; "
                f"the token has {', '.join(sorted(principal.roles)) or 'none'}"
            )
        return principal

    return dependency


READERS = (Role.MARKETER, Role.AGENT, Role.ANALYST, Role.VIEWER)
