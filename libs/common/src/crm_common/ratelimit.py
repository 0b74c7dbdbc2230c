"""Request rate limits: per bearer token, and per path on the public routes that take none.

Each replica keeps its own counts, in memory: a limit holds per replica, so a deployment of n
replicas behind a balancer takes up to n times as much. Requests over a limit are answered 429
problem+json with `Retry-After` before the app reads anything of them.
"""

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_common.problems import PROBLEM_JSON, ProblemError

# Past this many keys, the ones whose bucket has refilled completely are forgotten: a flood of
# distinct tokens or paths cannot grow the table without bound.
_PRUNE_ABOVE = 10_000
_EXEMPT_PREFIXES = ("/health/", "/metrics")


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` requests on average, up to `burst` at once."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs a positive rate and a burst of at least 1")


class Buckets:
    """A token bucket per key (the generic cell rate algorithm: one timestamp per key)."""

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / rate.per_second
        self._tolerance = self._interval * (rate.burst - 1)
        self._clock = clock
        self._due: dict[str, float] = {}

    def take(self, key: str) -> float:
        """Count one request of `key`: 0 when it may go on, else the seconds until one may."""
        now = self._clock()
        due = max(self._due.get(key, now), now)
        wait = due - self._tolerance - now
        if wait > 0:
            return wait
        self._due[key] = due + self._interval
        if len(self._due) > _PRUNE_ABOVE:
            self._due = {k: t for k, t in self._due.items() if t > now}
        return 0.0


class RateLimit:
    """ASGI middleware: `per_token` for requests bearing a token, `public` (by path prefix) for
    the routes under those prefixes that take none (webhooks, forms, links in emails)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_token: Rate | None,
        public: Mapping[str, Rate],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._per_token = Buckets(per_token, clock=clock) if per_token else None
        self._public = [(prefix, Buckets(rate, clock=clock)) for prefix, rate in public.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wait = self._wait(scope)
            if wait > 0:
                await _too_many(wait, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _wait(self, scope: Scope) -> float:
        path: str = scope["path"]
        if path.startswith(_EXEMPT_PREFIXES):
            return 0.0
        for prefix, buckets in self._public:
            if path.startswith(prefix):
                # Per path: a webhook path names its store, so one shop's burst slows no other.
                return buckets.take(path)
        authorization = Headers(scope=scope).get("authorization")
        if authorization and self._per_token is not None:
            # Keyed by the token as sent: checking it is the route's job, and counting an
            # invalid one costs an attacker as much as a valid one.
            key = hashlib.blake2b(authorization.encode(), digest_size=16).hexdigest()
            return self._per_token.take(key)
        return 0.0


async def _too_many(wait: float, scope: Scope, receive: Receive, send: Send) -> None:
    retry_after = max(1, math.ceil(wait))
    problem = ProblemError(429, f"too many requests: try again in {retry_after} s")
    response = JSONResponse(
        problem.to_dict(instance=scope["path"]),
        status_code=429,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": str(retry_after)},
    )
    await response(scope, receive, send)
