"""The analytics as exports (services/exports.py registers them): each report a table of
the figures GraphQL answers, from the same queries, for the same scope and period.

Invariants:
- The filter is an analytics scope and period as text parameters: `periodFrom` and
  `periodTo` (ISO 8601 with an offset; both required), `bucket` (DAY or WEEK, DAY when
  absent), and `taskId`, `projectId` or `variantGroup` to narrow the account's work.
- Rates are percentages, empty where their denominator is zero; money is a Decimal
  string in the account's currency (the `currency` column); times ISO 8601 in UTC; ids
  global ids. Every figure equals what `analytics`, `variantComparison` and `budgetPlan`
  answer for the same arguments.
- The tables are small (buckets, workers, variants, tasks, keys of a distribution): they
  are computed whole by the database's aggregates, then written row by row.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gql_server.models import Account, Worker
from gql_server.services import analytics
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, field_label
from gql_server.services.global_ids import global_id, pk_field
from gql_server.services.money import format_amount
from gql_server.tabular import Cell, Report


@dataclass(frozen=True)
class AnalyticsFilter:
    period_from: datetime | None = None
    period_to: datetime | None = None
    bucket: analytics.BucketSize = analytics.BucketSize.DAY
    task_id: int | None = pk_field("Task")
    project_id: int | None = pk_field("Project")
    variant_group: str | None = field(default=None)


async def _prepared(
    account_id: int, given: AnalyticsFilter
) -> tuple[Account, analytics.Scope, analytics.Period]:
    missing = [
        FieldError(ErrorCode.VALIDATION, f"'{field_label(name)}' is required.", (name,))
        for name, value in (("period_from", given.period_from), ("period_to", given.period_to))
        if value is None
    ]
    if missing:
        raise UseCaseError(missing)
    assert given.period_from is not None and given.period_to is not None
    account = await Account.get(id=account_id)
    scope = analytics.scope_of(
        account_id,
        task_id=given.task_id,
        project_id=given.project_id,
        variant_group=given.variant_group,
    )
    period = analytics.period_of(given.period_from, given.period_to, given.bucket, account.timezone)
    return account, scope, period


async def _report(
    scope: analytics.Scope, period: analytics.Period, group: analytics.Group
) -> analytics.Report:
    return await analytics.report(scope, period, frozenset({group}))


def _rate(value: float | None) -> Cell:
    return None if value is None else round(value, 6)


async def _rows(rows: Sequence[Sequence[Cell]]) -> AsyncGenerator[Sequence[Cell], None]:
    for row in rows:
        yield row


async def buckets_report(account_id: int, given: AnalyticsFilter) -> Report:
    account, scope, period = await _prepared(account_id, given)
    found = analytics.asked(
        (await analytics.report(scope, period, frozenset({analytics.Group.BUCKETS}))).buckets
    )
    money = account.currency
    return Report(
        (
            *("start", "end", "views", "starts", "submitted", "accepted", "rejected"),
            *("completion_rate", "approval_rate", "spend", "currency"),
        ),
        _rows(
            [
                (
                    b.bucket.start.isoformat(),
                    b.bucket.end.isoformat(),
                    b.views,
                    b.starts,
                    b.submitted,
                    b.accepted,
                    b.rejected,
                    _rate(b.completion_rate),
                    _rate(b.approval_rate),
                    format_amount(b.spend_minor, money),
                    money.value,
                )
                for b in found
            ]
        ),
    )


async def workers_report(account_id: int, given: AnalyticsFilter) -> Report:
    account, scope, period = await _prepared(account_id, given)
    found = analytics.asked(
        (await analytics.report(scope, period, frozenset({analytics.Group.WORKERS}))).workers
    )
    names = {w.id: w for w in await Worker.filter(id__in=[f.worker_id for f in found])}
    money = account.currency
    return Report(
        (
            *("worker_id", "worker_name", "country", "starts", "submitted", "accepted"),
            *("rejected", "approval_rate", "mean_seconds_to_complete", "earnings"),
            *("currency", "rule_firings"),
        ),
        _rows(
            [
                (
                    global_id("Worker", f.worker_id),
                    names[f.worker_id].name,
                    names[f.worker_id].country,
                    f.starts,
                    f.submitted,
                    f.accepted,
                    f.rejected,
                    _rate(f.approval_rate),
                    _rate(f.mean_seconds),
                    format_amount(f.earnings_minor, money),
                    money.value,
                    f.rule_firings,
                )
                for f in found
            ]
        ),
    )


async def distributions_report(account_id: int, given: AnalyticsFilter) -> Report:
    _, scope, period = await _prepared(account_id, given)
    work = analytics.asked(
        (await analytics.report(scope, period, frozenset({analytics.Group.DISTRIBUTIONS}))).cohort
    )
    parts = (
        ("country", analytics.by_country(work)),
        ("hour_of_day", analytics.by_local_time(work, "hour")),
        ("day_of_week", analytics.by_local_time(work, "dow")),
    )
    return Report(
        ("by", "key", "starts", "share"),
        _rows([(by, s.key, s.count, _rate(s.share)) for by, shares in parts for s in shares]),
    )


async def variants_report(account_id: int, given: AnalyticsFilter) -> Report:
    _, scope, period = await _prepared(account_id, given)
    if scope.variant_group is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'variantGroup' is required.", "variantGroup"
        )
    found = await analytics.variant_report(scope, period)
    against = {c.variant.task_id: c for c in analytics.compare(found)}

    def compared(task_id: int) -> tuple[Cell, ...]:
        c = against.get(task_id)
        if c is None:
            return (None,) * 4
        return (
            _rate(c.completion.difference),
            _rate(c.completion.p_value),
            _rate(c.approval.difference),
            _rate(c.approval.p_value),
        )

    return Report(
        (
            *("task_id", "views", "starts", "submitted", "decided", "accepted"),
            *("view_rate", "completion_rate", "approval_rate"),
            *("completion_difference", "completion_p_value"),
            *("approval_difference", "approval_p_value"),
        ),
        _rows(
            [
                (
                    global_id("Task", v.task_id),
                    v.views,
                    v.starts,
                    v.submitted,
                    v.decided,
                    v.accepted,
                    _rate(v.view_rate),
                    _rate(v.completion_rate),
                    _rate(v.approval_rate),
                    *compared(v.task_id),
                )
                for v in found
            ]
        ),
    )


async def budget_plan_report(account_id: int, given: AnalyticsFilter) -> Report:
    del given  # the plan is of every task, now
    account = await Account.get(id=account_id)
    money = account.currency
    found = await analytics.budget_plans(account_id)
    return Report(
        (
            *("task_id", "budget", "committed", "spent", "remaining"),
            *("recent_daily_spend", "days_to_exhaustion", "currency"),
        ),
        _rows(
            [
                (
                    global_id("Task", b.task_id),
                    format_amount(b.budget_minor, money),
                    format_amount(b.committed_minor, money),
                    format_amount(b.spent_minor, money),
                    format_amount(b.remaining_minor, money),
                    format_amount(b.recent_daily_spend_rounded_minor, money),
                    _rate(b.days_to_exhaustion),
                    money.value,
                )
                for b in found
            ]
        ),
    )
