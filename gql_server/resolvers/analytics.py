"""Analytics queries: for members of the account, any role. Each group of figures of an
`Analytics` is computed when it is selected."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import strawberry

from gql_server.resolvers.common import Info, query
from gql_server.resolvers.permissions import IsMember
from gql_server.schema.analytics import (
    AnalyticsBucket,
    AnalyticsBucketSize,
    AnalyticsPeriodInput,
    AnalyticsScopeInput,
    Engagement,
    Quality,
    Share,
    Spending,
    TaskBudgetPlan,
    VariantAgainstControl,
    VariantComparison,
    VariantFigures,
    WorkerPerformance,
)
from gql_server.schema.cost import REPORT, ListSize
from gql_server.services import analytics
from gql_server.services.global_ids import filter_pk

# What `workers` is priced as: a busy task's crowd in a period.
WORKERS_ASSUMED = 100


@dataclass(frozen=True)
class _Request:
    scope: analytics.Scope
    period: analytics.Period


async def _request(
    account_id: int, timezone: str, period: AnalyticsPeriodInput, scope: AnalyticsScopeInput
) -> _Request:
    """The scope and the period, checked (bad ones are BAD_USER_INPUT)."""
    return _Request(
        analytics.scope_of(
            account_id,
            task_id=filter_pk(scope.task_id, "Task", "scope", "taskId"),
            project_id=filter_pk(scope.project_id, "Project", "scope", "projectId"),
            variant_group=scope.variant_group,
        ),
        analytics.period_of(
            period.from_, period.to, analytics.BucketSize(period.bucket.value), timezone
        ),
    )


@strawberry.type(description="The figures of a scope over a period; each group when selected.")
class Analytics:
    request: strawberry.Private[_Request]
    bucket: AnalyticsBucketSize
    timezone: str = strawberry.field(description="The account's, which buckets are cut in.")
    # The cohort's counts, read once for every group of figures selected that needs them.
    counted: strawberry.Private[asyncio.Task[analytics.Cohort] | None] = None

    def cohort(self) -> asyncio.Task[analytics.Cohort]:
        if self.counted is None:
            self.counted = asyncio.ensure_future(
                analytics.cohort(self.request.scope, self.request.period)
            )
        return self.counted

    @strawberry.field
    async def engagement(self) -> Engagement:
        found = await analytics.engagement(
            self.request.scope, self.request.period, await self.cohort()
        )
        return Engagement.of(found)

    @strawberry.field
    async def quality(self) -> Quality:
        found = await analytics.quality(
            self.request.scope, self.request.period, await self.cohort()
        )
        return Quality.of(found)

    @strawberry.field
    async def spending(self, info: Info) -> Spending:
        currency = (await info.context.account()).currency
        found = await analytics.spending(self.request.scope, self.request.period)
        return Spending.of(found, currency)

    @strawberry.field(description="Starts by the worker's country, most first.")
    async def by_country(self) -> list[Share]:
        found = analytics.by_country(await self.cohort())
        return [Share.of(s) for s in found]

    @strawberry.field(
        description="Starts by local hour, 0 to 23.", directives=[ListSize(assumed_size=24)]
    )
    async def by_hour_of_day(self) -> list[Share]:
        found = analytics.by_local_time(await self.cohort(), "hour")
        return [Share.of(s) for s in found]

    @strawberry.field(
        description="Starts by local weekday, 1 (Monday) to 7.",
        directives=[ListSize(assumed_size=7)],
    )
    async def by_day_of_week(self) -> list[Share]:
        found = analytics.by_local_time(await self.cohort(), "dow")
        return [Share.of(s) for s in found]

    @strawberry.field(
        description="The period's days or weeks, in order.",
        directives=[ListSize(assumed_size=analytics.MAX_BUCKETS)],
    )
    async def buckets(self, info: Info) -> list[AnalyticsBucket]:
        currency = (await info.context.account()).currency
        found = await analytics.buckets(
            self.request.scope, self.request.period, await self.cohort()
        )
        return [AnalyticsBucket.of(b, currency) for b in found]

    @strawberry.field(
        description="Each worker with work started in the period.",
        directives=[ListSize(assumed_size=WORKERS_ASSUMED)],
    )
    async def workers(self, info: Info) -> list[WorkerPerformance]:
        currency = (await info.context.account()).currency
        found = await analytics.workers(
            self.request.scope, self.request.period, await self.cohort()
        )
        return [WorkerPerformance.of(w, currency) for w in found]


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(
        permission_classes=[IsMember],
        description="Engagement, quality, money, distributions and workers of the account's "
        "work (or a task's, a project's, a variant group's) over a period.",
        directives=REPORT,
    )
    async def analytics(
        self, info: Info, period: AnalyticsPeriodInput, scope: AnalyticsScopeInput | None = None
    ) -> Analytics:
        account = await info.context.account()
        given = scope or AnalyticsScopeInput()
        request = await query(lambda: _request(account.id, account.timezone, period, given))
        return Analytics(
            request=request,
            bucket=period.bucket,
            timezone=account.timezone,
        )

    @strawberry.field(
        permission_classes=[IsMember],
        description="The tasks of a variant group compared: each figure per variant, and "
        "completion and approval rates against the control with their significance.",
        directives=REPORT,
    )
    async def variant_comparison(
        self, info: Info, variant_group: str, period: AnalyticsPeriodInput
    ) -> VariantComparison:
        account = await info.context.account()
        given = AnalyticsScopeInput(variant_group=variant_group)
        request = await query(lambda: _request(account.id, account.timezone, period, given))
        found = await analytics.variants(request.scope, request.period)
        return VariantComparison(
            variants=[VariantFigures.of(v) for v in found],
            against_control=[VariantAgainstControl.of(c) for c in analytics.compare(found)],
        )

    @strawberry.field(
        permission_classes=[IsMember],
        description="Every task with a budget: its money and when it runs out at the recent "
        "rate, least remaining first.",
        directives=REPORT,
    )
    async def budget_plan(self, info: Info) -> list[TaskBudgetPlan]:
        account = await info.context.account()
        found = await analytics.budget_plan(account.id)
        return [TaskBudgetPlan.of(b, account.currency) for b in found]
