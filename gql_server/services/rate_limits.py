"""Rate limits: every API key has a budget of points per minute, and a request spends its
cost (at least 1 point, so that even `{ __typename }` counts).

- The budget is the key's own when the settings give it one (by its prefix), else its
  role's; callers without a key are counted by their address, with the anonymous budget.
- Spending goes through `limits`' sliding window counter: the weighted sum of this minute's
  and the last minute's points, so that the budget comes back continuously, as a bucket
  refilled at the budget's rate would, and not all at once at the top of the minute.
- With REDIS_URL the counters live in Redis, shared by every process of the deployment
  (keyed by the database it serves, so deployments sharing a Redis do not mix); without,
  in this process.
- A counter store that fails or does not answer within STORE_TIMEOUT_SECONDS lets the
  request through (logged): a broken limiter must not take the API down with it. After a
  failure the store is left alone for STORE_PAUSE_SECONDS (requests go through unasked),
  so that a Redis that hangs costs one request the timeout, not every request.
- A request that would pass the budget is refused whole and spends nothing; its answer
  says how many seconds to wait: the first whole second at which it would fit
  (`seconds_until_allowed`, from the counter's own two windows), so that a client that
  waits as told is let through. One that costs more than the whole budget never fits and
  is told so (no wait).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, SlidingWindowCounterSupport, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool

from gql_server import clock
from gql_server.services.principals import MemberPrincipal, Principal, WorkerPrincipal

logger = logging.getLogger(__name__)

STORE_TIMEOUT_SECONDS = 2.0
STORE_PAUSE_SECONDS = 10.0


@dataclass(frozen=True)
class Bucket:
    """Whose points a request spends, and how many it has per minute."""

    name: str
    points_per_minute: int


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    limit: int
    remaining: int
    reset_at: datetime
    # None for a request that costs more than the whole budget: no wait lets it through.
    retry_after_seconds: int | None


def seconds_until_allowed(
    previous: int, previous_left: float, current: int, window: float, limit: int, cost: int
) -> float | None:
    """How long until a request of `cost` points fits `limits`' sliding window counter, as
    both its stores keep it: the weighted count is `previous * previous_left / window +
    current` (the previous window's points weigh less as the `previous_left` seconds of
    the current window run out, then the current window's become the previous ones), and
    a request fits while the count, rounded down, and its cost stay within `limit`.
    0 when it fits now; None when it never can (it costs more than the limit). The
    request fits only after the moment returned, not at it."""
    if cost > limit:
        return None
    room = limit - cost + 1  # the weighted count must fall below this
    if previous * previous_left / window + current < room:
        return 0.0
    if previous and current < room:
        return previous_left - (room - current) * window / previous
    return previous_left + max(0.0, window - room * window / current)


def bucket_for(
    principal: Principal | None,
    budgets: Mapping[str, int],
    key_budgets: Mapping[str, int],
    address: str | None,
) -> Bucket:
    """The bucket of a caller: its key's (with the key's own budget, if it has one, else
    its role's), or its address's when it has no key."""
    if principal is None:
        return Bucket(f"address:{address or 'unknown'}", budgets["anonymous"])
    if isinstance(principal, MemberPrincipal):
        name, kind = f"key:{principal.api_key_id}", principal.role.value.lower()
    elif isinstance(principal, WorkerPrincipal):
        name, kind = f"key:{principal.api_key_id}", "worker"
    else:
        name, kind = f"operator:{principal.operator_key_id}", "operator"
    return Bucket(name, key_budgets.get(principal.key_prefix, budgets[kind]))


def _storage_uri(redis_url: str) -> str:
    scheme, _, rest = redis_url.partition("://")
    return {"redis": "async+redis", "rediss": "async+rediss", "unix": "async+redis+unix"}[
        scheme
    ] + f"://{rest}"


class RateLimiter:
    def __init__(self, redis_url: str | None, namespace: str) -> None:
        prefix = "cw-rate-" + hashlib.sha256(namespace.encode()).hexdigest()[:12]
        storage: Storage
        # Our own pool, so that the server can close its connections when it stops.
        self._pool: ConnectionPool | None = None
        if redis_url:
            self._pool = ConnectionPool.from_url(
                redis_url,
                socket_timeout=STORE_TIMEOUT_SECONDS,
                socket_connect_timeout=STORE_TIMEOUT_SECONDS,
            )
            storage = RedisStorage(
                _storage_uri(redis_url),
                implementation="redispy",
                key_prefix=prefix,
                connection_pool=self._pool,
            )
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        # Until when the store is left alone after a failure (a POSIX time, by our clock).
        self._paused_until = 0.0

    async def spend(self, bucket: Bucket, cost: int) -> Allowance | None:
        """Spend `cost` points; None when allowed, the allowance left when refused (or
        when the store fails: then allowed, and logged)."""
        if clock.now().timestamp() < self._paused_until:
            return None
        item = RateLimitItemPerMinute(bucket.points_per_minute)
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                if await self._strategy.hit(item, bucket.name, cost=max(cost, 1)):
                    return None
                return await self._allowance(item, bucket, refused_cost=max(cost, 1))
        except Exception:
            self._pause(bucket)
            return None

    async def status(self, bucket: Bucket) -> Allowance:
        """What is left of a bucket's budget now (the whole budget if the store fails)."""
        item = RateLimitItemPerMinute(bucket.points_per_minute)
        whole = Allowance(
            True, bucket.points_per_minute, bucket.points_per_minute, datetime.now(UTC), 0
        )
        if clock.now().timestamp() < self._paused_until:
            return whole
        try:
            async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
                return await self._allowance(item, bucket)
        except Exception:
            self._pause(bucket)
            return whole

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def _pause(self, bucket: Bucket) -> None:
        logger.warning(
            "rate limit store unavailable (at %s): requests go through uncounted for %.0f s",
            bucket.name,
            STORE_PAUSE_SECONDS,
        )
        self._paused_until = clock.now().timestamp() + STORE_PAUSE_SECONDS

    async def _allowance(
        self, item: RateLimitItemPerMinute, bucket: Bucket, refused_cost: int = 0
    ) -> Allowance:
        window = item.get_expiry()
        previous, previous_ttl, current, current_ttl = await cast(
            SlidingWindowCounterSupport, self._storage
        ).get_sliding_window(item.key_for(bucket.name), window)
        # What is left of the current window: the previous window's time to live while
        # there is one, else the current's beyond the one window it is kept for after.
        left = previous_ttl if previous else max(0.0, current_ttl - window)
        limit = bucket.points_per_minute
        remaining = max(0, limit - math.floor(previous * left / window + current))
        now = time.time()
        # The next points come back when a request of one point more than is left fits.
        regained = (
            seconds_until_allowed(previous, left, current, window, limit, remaining + 1)
            if remaining < limit
            else 0.0
        )
        retry_after: int | None = 0
        if refused_cost:
            wait = seconds_until_allowed(previous, left, current, window, limit, refused_cost)
            retry_after = None if wait is None else math.floor(wait) + 1
        return Allowance(
            allowed=refused_cost == 0,
            limit=limit,
            remaining=remaining,
            reset_at=datetime.fromtimestamp(now + (regained or 0.0), UTC),
            retry_after_seconds=retry_after,
        )
