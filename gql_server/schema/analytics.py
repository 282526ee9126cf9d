"""Analytics in GraphQL: the figures of services/analytics.py, each group of them computed
when selected (one or a few SQL aggregates per group), rates in percent, a ratio with no
denominator null."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from gql_server.models.enums import Currency
from gql_server.rules.statistics import Comparison
from gql_server.schema.audits import PercentInterval
from gql_server.schema.enums import DisputeStatus
from gql_server.schema.types import Info, Money, Task, Worker
from gql_server.services import analytics
from gql_server.services.global_ids import global_id


async def _task(info: Info, pk: int) -> Task:
    """One of the account's tasks, batched with the others asked for (no N+1)."""
    task = await info.context.loaders.task.load(pk)
    return Task.from_model(task, (await info.context.account()).currency)


@strawberry.enum(description="How a period is cut: days, or weeks from Monday to Sunday.")
class AnalyticsBucketSize(Enum):
    DAY = "DAY"
    WEEK = "WEEK"


@strawberry.input(description="[from, to), cut into buckets in the account's time zone.")
class AnalyticsPeriodInput:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    bucket: AnalyticsBucketSize = AnalyticsBucketSize.DAY


@strawberry.input(
    description="Whose work: one task, one project's tasks, one variant group's, or (none "
    "given) the whole account's. Another account's ids match nothing."
)
class AnalyticsScopeInput:
    task_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    variant_group: str | None = None


@strawberry.type(
    description="Seconds from start to first submission. The mean is exact; the percentiles "
    "are of whole seconds to three significant figures (to the second below 1,000 s, to ten "
    "seconds below 10,000 s, ...), interpolated as PostgreSQL's percentile_cont does."
)
class Durations:
    count: int
    mean: float | None
    median: float | None
    p90: float | None = strawberry.field(description="90th percentile.")

    @classmethod
    def of(cls, d: analytics.Durations) -> Durations:
        return cls(count=d.count, mean=d.mean, median=d.median, p90=d.p90)


@strawberry.type(description="Of the work started in the period (views: seen in it).")
class Engagement:
    views: int
    unique_viewers: int
    starts: int
    submitted: int
    abandoned: int = strawberry.field(description="Starts that expired before being sent.")
    view_rate: float | None = strawberry.field(description="Starts per 100 views.")
    completion_rate: float | None = strawberry.field(description="Submitted of started, %.")
    abandonment_rate: float | None
    time_to_complete: Durations

    @classmethod
    def of(cls, e: analytics.Engagement) -> Engagement:
        return cls(
            views=e.views,
            unique_viewers=e.unique_viewers,
            starts=e.starts,
            submitted=e.submitted,
            abandoned=e.abandoned,
            view_rate=e.view_rate,
            completion_rate=e.completion_rate,
            abandonment_rate=e.abandonment_rate,
            time_to_complete=Durations.of(e.time_to_complete),
        )


@strawberry.type
class DisputeCount:
    status: DisputeStatus
    count: int


@strawberry.type(
    description="Of the work started in the period: how its reviews went (accepted: approved "
    "as delivered; rejected: rejected, disputed or partly paid), revisions and disputes; "
    "ratings made in the period; workers with two or more of the account's tasks."
)
class Quality:
    decided: int
    accepted: int
    rejected: int
    approval_rate: float | None
    rejection_rate: float | None
    first_attempt_approval_rate: float | None = strawberry.field(
        description="Approved without a revision request, of decided, %."
    )
    revision_rate: float | None = strawberry.field(description="Revised, of submitted, %.")
    dispute_count: int
    dispute_rate: float | None = strawberry.field(description="Disputes per 100 rejections.")
    disputes: list[DisputeCount]
    rating_count: int
    mean_clarity: float | None
    mean_fairness: float | None
    workers: int
    repeat_workers: int
    repeat_worker_share: float | None

    @classmethod
    def of(cls, q: analytics.Quality) -> Quality:
        return cls(
            decided=q.decided,
            accepted=q.accepted,
            rejected=q.rejected,
            approval_rate=q.approval_rate,
            rejection_rate=q.rejection_rate,
            first_attempt_approval_rate=q.first_attempt_approval_rate,
            revision_rate=q.revision_rate,
            dispute_count=q.dispute_count,
            dispute_rate=q.dispute_rate,
            disputes=[DisputeCount(status=s, count=n) for s, n in q.disputes.items()],
            rating_count=q.ratings,
            mean_clarity=q.mean_clarity,
            mean_fairness=q.mean_fairness,
            workers=q.workers,
            repeat_workers=q.repeat_workers,
            repeat_worker_share=q.repeat_worker_share,
        )


@strawberry.type(description="Money moved in the period (the ledger's time).")
class Spending:
    spend: Money
    bonuses: Money
    approved: int = strawberry.field(description="Submissions approved (paid) in the period.")
    cost_per_approved_submission: Money | None

    @classmethod
    def of(cls, s: analytics.Spending, currency: Currency) -> Spending:
        per = s.cost_per_approved_minor
        return cls(
            spend=Money.of(s.spend_minor, currency),
            bonuses=Money.of(s.bonuses_minor, currency),
            approved=s.approved,
            cost_per_approved_submission=None if per is None else Money.of(per, currency),
        )


@strawberry.type(
    description="Starts by a key: a country, a local hour (0-23), a weekday (1 is Monday)."
)
class Share:
    key: str
    count: int
    share: float | None

    @classmethod
    def of(cls, s: analytics.Share) -> Share:
        return cls(key=s.key, count=s.count, share=s.share)


@strawberry.type
class AnalyticsBucket:
    start: datetime
    end: datetime
    views: int
    starts: int
    submitted: int
    accepted: int
    rejected: int
    completion_rate: float | None
    approval_rate: float | None
    spend: Money

    @classmethod
    def of(cls, b: analytics.BucketFigures, currency: Currency) -> AnalyticsBucket:
        return cls(
            start=b.bucket.start,
            end=b.bucket.end,
            views=b.views,
            starts=b.starts,
            submitted=b.submitted,
            accepted=b.accepted,
            rejected=b.rejected,
            completion_rate=b.completion_rate,
            approval_rate=b.approval_rate,
            spend=Money.of(b.spend_minor, currency),
        )


@strawberry.type(description="A worker's work started in the period, and what it earned.")
class WorkerPerformance:
    worker_id: strawberry.ID
    starts: int
    submitted: int
    accepted: int
    rejected: int
    approval_rate: float | None
    mean_seconds_to_complete: float | None
    earnings: Money
    rule_firings: int
    worker_pk: strawberry.Private[int]

    @strawberry.field
    async def worker(self, info: Info) -> Worker:
        return Worker.from_model(await info.context.loaders.worker.load(self.worker_pk))

    @classmethod
    def of(cls, w: analytics.WorkerFigures, currency: Currency) -> WorkerPerformance:
        return cls(
            worker_pk=w.worker_id,
            worker_id=strawberry.ID(global_id("Worker", w.worker_id)),
            starts=w.starts,
            submitted=w.submitted,
            accepted=w.accepted,
            rejected=w.rejected,
            approval_rate=w.approval_rate,
            mean_seconds_to_complete=w.mean_seconds,
            earnings=Money.of(w.earnings_minor, currency),
            rule_firings=w.rule_firings,
        )


@strawberry.type
class VariantFigures:
    task_id: strawberry.ID
    views: int
    starts: int
    submitted: int
    decided: int
    accepted: int
    view_rate: float | None
    completion_rate: float | None
    approval_rate: float | None
    task_pk: strawberry.Private[int]

    @strawberry.field
    async def task(self, info: Info) -> Task:
        return await _task(info, self.task_pk)

    @classmethod
    def of(cls, v: analytics.VariantFigures) -> VariantFigures:
        return cls(
            task_pk=v.task_id,
            task_id=strawberry.ID(global_id("Task", v.task_id)),
            views=v.views,
            starts=v.starts,
            submitted=v.submitted,
            decided=v.decided,
            accepted=v.accepted,
            view_rate=v.view_rate,
            completion_rate=v.completion_rate,
            approval_rate=v.approval_rate,
        )


@strawberry.type(
    description="A variant's share against the control's: the difference in percentage "
    "points (variant minus control), the two-sided p-value of the two-proportion z-test, "
    "and the 95% interval of the difference; null where a sample is empty."
)
class ShareComparison:
    difference: float | None
    p_value: float | None
    interval: PercentInterval | None


@strawberry.type
class VariantAgainstControl:
    task_id: strawberry.ID
    completion_rate: ShareComparison
    approval_rate: ShareComparison

    @classmethod
    def of(cls, c: analytics.VariantComparison) -> VariantAgainstControl:
        def share(comparison: Comparison) -> ShareComparison:
            return ShareComparison(
                difference=comparison.difference,
                p_value=comparison.p_value,
                interval=PercentInterval.of(comparison.interval),
            )

        return cls(
            task_id=strawberry.ID(global_id("Task", c.variant.task_id)),
            completion_rate=share(c.completion),
            approval_rate=share(c.approval),
        )


@strawberry.type(
    description="The tasks of a variant group side by side (oldest first: the first is the "
    "control), and each other variant against the control."
)
class VariantComparison:
    variants: list[VariantFigures]
    against_control: list[VariantAgainstControl]


@strawberry.type(description="A task's budget, and when it runs out at the recent rate.")
class TaskBudgetPlan:
    task_id: strawberry.ID
    budget: Money
    committed: Money
    spent: Money
    remaining: Money
    recent_daily_spend: Money = strawberry.field(
        description="The mean spend per day over the last 7 days."
    )
    days_to_exhaustion: float | None = strawberry.field(
        description="Remaining over the recent daily spend; null when nothing was spent lately."
    )
    task_pk: strawberry.Private[int]

    @strawberry.field
    async def task(self, info: Info) -> Task:
        return await _task(info, self.task_pk)

    @classmethod
    def of(cls, b: analytics.BudgetPlan, currency: Currency) -> TaskBudgetPlan:
        return cls(
            task_pk=b.task_id,
            task_id=strawberry.ID(global_id("Task", b.task_id)),
            budget=Money.of(b.budget_minor, currency),
            committed=Money.of(b.committed_minor, currency),
            spent=Money.of(b.spent_minor, currency),
            remaining=Money.of(b.remaining_minor, currency),
            recent_daily_spend=Money.of(b.recent_daily_spend_rounded_minor, currency),
            days_to_exhaustion=b.days_to_exhaustion,
        )
