"""Bearer-JWT authentication with roles.

Tokens are signed by an identity provider (or `make token` in development) with a private key;
services hold only public keys, so a compromised service cannot mint tokens. The keys come from
one PEM public key, or from a JWKS document (a URL or a file) by each token's `kid`: the
provider rotates keys by publishing the new one beside the old, and services follow without a
restart.
"""

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

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


class KeySource(Protocol):
    async def key(self, key_id: str | None) -> Any:
        """The key verifying a token whose header names `key_id`; raises `Unauthorized` when
        there is none."""
        ...


@dataclass(frozen=True, slots=True)
class StaticKey:
    """One PEM public key, whatever `kid` a token names."""

    public_key: str

    async def key(self, key_id: str | None) -> Any:  # noqa: ARG002 (one key for every kid)
        return self.public_key


class JwksKeys:
    """Keys by `kid` from a JWKS document at `location` (an http(s) URL, or a file path).

    The document is read again every `max_age` seconds, and when a token names a `kid` not in
    it, at most every `min_refetch` seconds (so a flood of made-up key ids costs one read).
    """

    def __init__(
        self,
        location: str,
        *,
        max_age: float = 300.0,
        min_refetch: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._location = location
        self._max_age = max_age
        self._min_refetch = min_refetch
        self._clock = clock
        self._keys: dict[str | None, Any] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, key_id: str | None) -> Any:
        async with self._lock:
            age = None if self._read_at is None else self._clock() - self._read_at
            unknown = key_id not in self._keys
            if age is None or age >= self._max_age or (unknown and age >= self._min_refetch):
                await self._read()
        if key_id in self._keys:
            return self._keys[key_id]
        if key_id is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise Unauthorized(f"the bearer token is signed by an unknown key ({key_id or 'no kid'})")

    async def _read(self) -> None:
        self._read_at = self._clock()
        try:
            document = json.loads(await asyncio.to_thread(self._fetch))
            keys = jwt.PyJWKSet.from_dict(document).keys
        except (OSError, ValueError, jwt.PyJWTError) as error:
            # Keep verifying with the keys already known; unknown ones stay unknown.
            if not self._keys:
                raise Unauthorized(f"the token keys cannot be read: {error}") from error
            return
        self._keys = {key.key_id: key.key for key in keys}

    def _fetch(self) -> bytes:
        if self._location.startswith(("https://", "http://")):
            with urllib.request.urlopen(self._location, timeout=5) as response:
                body: bytes = response.read()
                return body
        return Path(self._location.removeprefix("file://")).read_bytes()


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    keys: KeySource
    algorithm: str
    issuer: str
    audience: str
    leeway_seconds: float = 30.0
    """Clock skew tolerated on `exp`, `nbf` and `iat` between the provider and us."""

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            key = await self.keys.key(header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway_seconds,
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
    key_id: str | None = None,
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
    headers = {"kid": key_id} if key_id else None
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """The caller of `request`, by its bearer token (401 without a valid one)."""
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(_bearer_token(request))


def ensure_any(principal: Principal, wanted: frozenset[Role]) -> None:
    """403 unless `principal` holds one of `wanted` (admin always passes)."""
    if not principal.has_any(wanted):
        raise Forbidden(
            f"this needs one of the roles {', '.join(sorted(wanted))}; "
            f"the token has {', '.join(sorted(principal.roles)) or 'none'}"
        )
