"""The rate limit in GraphQL: each operation spends its cost from the caller's bucket before
it runs, and `rateLimit` reads what is left.

An operation over the budget is refused whole, RATE_LIMITED, with `retryAfterSeconds` in
its extensions (the HTTP layer adds `Retry-After`, and answers 429 where the
GraphQL-over-HTTP rules allow); one that costs more than the whole budget,
COST_LIMIT_EXCEEDED, since no wait would let it through. A subscription spends its cost
once, when it starts; its messages are not counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import strawberry
from strawberry.extensions import SchemaExtension

from gql_server.resolvers.common import Info
from gql_server.schema.cost import CostLimitExceeded
from gql_server.schema.errors import ApiError
from gql_server.services.rate_limits import Allowance


class RateLimited(ApiError):
    code = "RATE_LIMITED"


@strawberry.type(description="The caller's rate limit: points per minute, spent by cost.")
class RateLimit:
    limit: int = strawberry.field(description="Points per minute of this caller's key.")
    remaining: int = strawberry.field(description="Points left now, this request's spent.")
    reset_at: datetime = strawberry.field(description="When the next points come back.")
    cost: int = strawberry.field(description="What this request cost.")

    @classmethod
    def from_allowance(cls, allowance: Allowance, cost: int) -> RateLimit:
        return cls(
            limit=allowance.limit,
            remaining=allowance.remaining,
            reset_at=allowance.reset_at,
            cost=cost,
        )


class SpendRateLimit(SchemaExtension):
    """Spends an operation's cost from its caller's bucket, or refuses it."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        policy = getattr(context, "policy", None)
        limiter = getattr(policy, "rate_limiter", None)
        cost = getattr(context, "cost", None)
        if limiter is not None and execution.result is None and cost is not None:
            refused = await limiter.spend(context.bucket, cost)
            if refused is not None and refused.retry_after_seconds is None:
                raise CostLimitExceeded(
                    f"This request costs {context.cost} points, more than this key's whole "
                    f"budget of {refused.limit} points per minute: no wait lets it through. "
                    "Ask for fewer fields or smaller pages.",
                    {"cost": context.cost, "maximumCost": refused.limit},
                )
            if refused is not None:
                # Raised, not set as the result: a subscription is refused so too.
                raise RateLimited(
                    f"Rate limit reached: this key has {refused.remaining} of its "
                    f"{refused.limit} points per minute left and this request costs "
                    f"{context.cost}; retry in {refused.retry_after_seconds} s.",
                    {
                        "retryAfterSeconds": refused.retry_after_seconds,
                        "cost": context.cost,
                        "limit": refused.limit,
                        "remaining": refused.remaining,
                    },
                )
        yield


@strawberry.type
class RateLimitQueries:
    @strawberry.field(
        description="The caller's rate limit, like GitHub's: its budget, what is left after "
        "this request, and when points come back. Null when the server counts nothing."
    )
    async def rate_limit(self, info: Info) -> RateLimit | None:
        context = info.context
        limiter = context.policy.rate_limiter
        if limiter is None:
            return None
        allowance = await limiter.status(context.bucket)
        return RateLimit.from_allowance(allowance, context.cost or 0)
