"""Analytics queries: for members of the account, any role. The groups of figures an
`analytics` selection names are computed together, on one snapshot, before its fields
resolve; a report that cannot run now or runs too long is a coded error."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import strawberry

from gql_server.models.enums import Currency
from gql_server.resolvers.common import Info, query, selected_names
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
from gql_server.schema.errors import ApiError
from gql_server.services import analytics, report_reads
from gql_server.services.global_ids import filter_pk

T = TypeVar("T")

# What `workers` is priced as: a busy task's crowd in a period.
WORKERS_ASSUMED = 100


class ReportsBusy(ApiError):
    code = "REPORTS_BUSY"


class ReportTimeout(ApiError):
    code = "REPORT_TIMEOUT"


async def _reported(computed: Awaitable[T]) -> T:
    """A report's figures, or why there are none as a coded error."""
    try:
        return await computed
    except report_reads.ReportsBusy as busy:
        raise ReportsBusy(str(busy), {"retryAfterSeconds": busy.retry_after_seconds}) from None
    except report_reads.ReportTimedOut as slow:
        raise ReportTimeout(str(slow)) from None


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


# The groups of figures each field of `Analytics` shows.
_GROUPS = {
    "engagement": analytics.Group.ENGAGEMENT,
    "quality": analytics.Group.QUALITY,
    "spending": analytics.Group.SPENDING,
    "byCountry": analytics.Group.DISTRIBUTIONS,
    "byHourOfDay": analytics.Group.DISTRIBUTIONS,
    "byDayOfWeek": analytics.Group.DISTRIBUTIONS,
    "buckets": analytics.Group.BUCKETS,
    "workers": analytics.Group.WORKERS,
}


@strawberry.type(
    description="The figures of a scope over a period, all of one moment; each group is "
    "computed when it is selected."
)
class Analytics:
    found: strawberry.Private[analytics.Report]
    currency: strawberry.Private[Currency]
    bucket: AnalyticsBucketSize
    timezone: str = strawberry.field(description="The account's, which buckets are cut in.")

    @strawberry.field
    def engagement(self) -> Engagement:
        return Engagement.of(analytics.asked(self.found.engagement))

    @strawberry.field
    def quality(self) -> Quality:
        return Quality.of(analytics.asked(self.found.quality))

    @strawberry.field
    def spending(self) -> Spending:
        return Spending.of(analytics.asked(self.found.spending), self.currency)

    @strawberry.field(description="Starts by the worker's country, most first.")
    def by_country(self) -> list[Share]:
        return [Share.of(s) for s in analytics.by_country(analytics.asked(self.found.cohort))]

    @strawberry.field(
        description="Starts by local hour, 0 to 23.", directives=[ListSize(assumed_size=24)]
    )
    def by_hour_of_day(self) -> list[Share]:
        found = analytics.by_local_time(analytics.asked(self.found.cohort), "hour")
        return [Share.of(s) for s in found]

    @strawberry.field(
        description="Starts by local weekday, 1 (Monday) to 7.",
        directives=[ListSize(assumed_size=7)],
    )
    def by_day_of_week(self) -> list[Share]:
        found = analytics.by_local_time(analytics.asked(self.found.cohort), "dow")
        return [Share.of(s) for s in found]

    @strawberry.field(
        description="The period's days or weeks, in order.",
        directives=[ListSize(assumed_size=analytics.MAX_BUCKETS)],
    )
    def buckets(self) -> list[AnalyticsBucket]:
        return [AnalyticsBucket.of(b, self.currency) for b in analytics.asked(self.found.buckets)]

    @strawberry.field(
        description="Each worker with work started in the period.",
        directives=[ListSize(assumed_size=WORKERS_ASSUMED)],
    )
    def workers(self) -> list[WorkerPerformance]:
        return [WorkerPerformance.of(w, self.currency) for w in analytics.asked(self.found.workers)]


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
        groups = frozenset(_GROUPS[name] for name in selected_names(info) if name in _GROUPS)
        found = await _reported(analytics.report(request.scope, request.period, groups))
        return Analytics(
            found=found, currency=account.currency, bucket=period.bucket, timezone=account.timezone
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
        found = await _reported(analytics.variant_report(request.scope, request.period))
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
        found = await _reported(analytics.budget_plans(account.id))
        return [TaskBudgetPlan.of(b, account.currency) for b in found]
