"""Task performance analytics (SPEC section 9), computed with SQL aggregates.

What counts where:

- The scope is an account's tasks: all of them, one project's, one variant group's or
  one task.
- The period is [start, end), cut into days or weeks (Monday to Sunday) in the account's
  time zone, boundaries computed here with the zone's rules (summer time included) and
  handed to the database as a list of instants.
- Work counts in the period in which it was **started** (a cohort): starts, submissions,
  completion, abandonment (starts that expired unsent), reviews' outcomes, revisions,
  disputes, time to complete, distributions and worker performance are about the
  submissions started in the period, whenever they were later sent or reviewed; so that a
  rate's numerator is always a part of its denominator.
- Views and ratings count when they were made; money when it moved (the ledger's time);
  the cost per approved submission divides the spend by the submissions approved (paid)
  in the same period.
- A ratio with no denominator is None (shown as null), never 0 and never an error.

Every figure is an aggregate in the database (COUNT, SUM with CASE), one statement per
group of figures; nothing loads rows into Python. The submissions and the ledger are read
through their tallies (models/tallies.py), kept by the database on every write: whole UTC
quarter hours and days from a tally, the period's edges from the rows themselves, in one
UNION ALL per statement, so that a dashboard over a million submissions reads tens of
thousands of rows. The percentiles of the time to complete come from the duration tally's
bins (whole seconds to three significant figures), interpolated as `percentile_cont`
does; the mean is exact. Where SQLite lacks what PostgreSQL has, the equivalent is said
where it is used: local hours by the offset spans of the zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from gql_server import clock
from gql_server.models.enums import DisputeStatus, LedgerBucket, LedgerReason, SubmissionState
from gql_server.models.vocabulary import (
    PAID_STATES,
    RULE_ACCEPTED_STATES,
    RULE_REJECTED_STATES,
    percent,
)
from gql_server.rules.statistics import Comparison, percentile, two_proportion_test
from gql_server.services import report_reads, tallies
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.report_reads import Reads
from gql_server.services.sql import Params, duration_bin, micros_between
from gql_server.services.tasks import MAX_VARIANT_GROUP

MAX_BUCKETS = 400
# The recent rate the budget plan projects from.
RECENT_SPEND_DAYS = 7

# A start that expired before it was ever sent (a revision not sent back expires too, but
# its work was sent once).
ABANDONED = f"c.state = '{SubmissionState.EXPIRED}' AND NOT c.sent"
# Submitted work with a pay decision, and how it went (models/vocabulary.py).
ACCEPTED = RULE_ACCEPTED_STATES
REJECTED = RULE_REJECTED_STATES


class BucketSize(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"


@dataclass(frozen=True)
class Scope:
    """An account's tasks, or one project's, one variant group's, one task."""

    account_id: int
    task_id: int | None = None
    project_id: int | None = None
    variant_group: str | None = None


def scope_of(
    account_id: int,
    *,
    task_id: int | None = None,
    project_id: int | None = None,
    variant_group: str | None = None,
) -> Scope:
    if variant_group is not None and len(variant_group) > MAX_VARIANT_GROUP:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'variantGroup' is longer than {MAX_VARIANT_GROUP} characters.",
            "scope",
            "variantGroup",
        )
    return Scope(account_id, task_id, project_id, variant_group)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    zone: ZoneInfo
    buckets: tuple[Bucket, ...]


def period_of(start: datetime, end: datetime, size: BucketSize, timezone: str) -> Period:
    """The period [start, end), its buckets cut at local midnights (Mondays for weeks)."""
    for name, moment in (("from", start), ("to", end)):
        if moment.utcoffset() is None:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, f"'{name}' needs a time zone offset.", "period", name
            )
    if start >= end:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'to' must be after 'from'.", "period", "to"
        )
    zone = ZoneInfo(timezone)
    step = timedelta(days=7 if size is BucketSize.WEEK else 1)
    first = start.astimezone(zone).date()
    if size is BucketSize.WEEK:
        first -= timedelta(days=first.weekday())
    last = end.astimezone(zone).date()
    count = (last - first) // step + 1
    if count > MAX_BUCKETS:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"The period holds {count} {size.lower()}s; at most {MAX_BUCKETS} are answered.",
            "period",
        )
    buckets: list[Bucket] = []
    day = first
    while True:
        lo = max(_midnight(day, zone), start.astimezone(UTC))
        hi = min(_midnight(day + step, zone), end.astimezone(UTC))
        if lo >= end.astimezone(UTC):
            break
        if lo < hi:
            buckets.append(Bucket(lo, hi))
        day += step
    return Period(start.astimezone(UTC), end.astimezone(UTC), zone, tuple(buckets))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    """Seconds from start to first submission."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Engagement:
    views: int
    unique_viewers: int
    starts: int
    submitted: int
    abandoned: int
    time_to_complete: Durations

    @property
    def view_rate(self) -> float | None:
        return percent(self.starts, self.views)

    @property
    def completion_rate(self) -> float | None:
        return percent(self.submitted, self.starts)

    @property
    def abandonment_rate(self) -> float | None:
        return percent(self.abandoned, self.starts)


@dataclass(frozen=True)
class Quality:
    decided: int
    accepted: int
    rejected: int
    first_attempt_accepted: int
    submitted: int
    revised: int
    rejections: int
    disputes: dict[DisputeStatus, int]
    ratings: int
    mean_clarity: float | None
    mean_fairness: float | None
    workers: int
    repeat_workers: int

    @property
    def approval_rate(self) -> float | None:
        return percent(self.accepted, self.decided)

    @property
    def rejection_rate(self) -> float | None:
        return percent(self.rejected, self.decided)

    @property
    def first_attempt_approval_rate(self) -> float | None:
        return percent(self.first_attempt_accepted, self.decided)

    @property
    def revision_rate(self) -> float | None:
        return percent(self.revised, self.submitted)

    @property
    def dispute_count(self) -> int:
        return sum(self.disputes.values())

    @property
    def dispute_rate(self) -> float | None:
        return percent(self.dispute_count, self.rejections)

    @property
    def repeat_worker_share(self) -> float | None:
        return percent(self.repeat_workers, self.workers)


@dataclass(frozen=True)
class Spending:
    spend_minor: int
    bonuses_minor: int
    approved: int

    @property
    def cost_per_approved_minor(self) -> int | None:
        """Rounded half up to the minor unit."""
        if self.approved == 0:
            return None
        return (2 * self.spend_minor + self.approved) // (2 * self.approved)


@dataclass(frozen=True)
class Share:
    key: str
    count: int
    total: int

    @property
    def share(self) -> float | None:
        return percent(self.count, self.total)


@dataclass(frozen=True)
class BucketFigures:
    bucket: Bucket
    views: int
    starts: int
    submitted: int
    accepted: int
    rejected: int
    spend_minor: int

    @property
    def completion_rate(self) -> float | None:
        return percent(self.submitted, self.starts)

    @property
    def approval_rate(self) -> float | None:
        return percent(self.accepted, self.accepted + self.rejected)


@dataclass(frozen=True)
class WorkerFigures:
    worker_id: int
    starts: int
    submitted: int
    accepted: int
    rejected: int
    mean_seconds: float | None
    earnings_minor: int
    rule_firings: int

    @property
    def approval_rate(self) -> float | None:
        return percent(self.accepted, self.accepted + self.rejected)


@dataclass(frozen=True)
class VariantFigures:
    task_id: int
    views: int
    starts: int
    submitted: int
    accepted: int
    decided: int

    @property
    def completion_rate(self) -> float | None:
        return percent(self.submitted, self.starts)

    @property
    def approval_rate(self) -> float | None:
        return percent(self.accepted, self.decided)

    @property
    def view_rate(self) -> float | None:
        return percent(self.starts, self.views)


@dataclass(frozen=True)
class VariantComparison:
    """A variant against the control (the group's first task)."""

    control: VariantFigures
    variant: VariantFigures
    completion: Comparison
    approval: Comparison


@dataclass(frozen=True)
class BudgetPlan:
    task_id: int
    budget_minor: int
    committed_minor: int
    spent_minor: int
    remaining_minor: int
    recent_daily_spend_minor: float

    @property
    def recent_daily_spend_rounded_minor(self) -> int:
        """The daily spend in minor units, rounded half up as the cost per approved
        submission is."""
        return math.floor(self.recent_daily_spend_minor + 0.5)

    @property
    def days_to_exhaustion(self) -> float | None:
        """At the spend rate of the last RECENT_SPEND_DAYS days; None when nothing is spent
        lately (the budget is not running out)."""
        if self.recent_daily_spend_minor <= 0:
            return None
        return self.remaining_minor / self.recent_daily_spend_minor


# --- SQL pieces -------------------------------------------------------------------------------


def _scope(scope: Scope, params: Params, alias: str = "t") -> str:
    where = [f"{alias}.account_id = {params.add(scope.account_id)}"]
    if scope.task_id is not None:
        where.append(f"{alias}.id = {params.add(scope.task_id)}")
    if scope.project_id is not None:
        where.append(f"{alias}.project_id = {params.add(scope.project_id)}")
    if scope.variant_group is not None:
        where.append(f"{alias}.variant_group = {params.add(scope.variant_group)}")
    return " AND ".join(where)


def _within(column: str, period: Period, params: Params) -> str:
    lo, hi = params.add(period.start), params.add(period.end)
    return f"{column} >= {lo} AND {column} < {hi}"


def _states(states: Sequence[SubmissionState]) -> str:
    return ", ".join(f"'{state.value}'" for state in states)


def _sum_if(condition: str) -> str:
    """What the cohort's rows (`_cohort_rows`) meeting `condition` count."""
    return f"SUM(CASE WHEN {condition} THEN c.n ELSE 0 END)"


def _bucket_of(column: str, period: Period, params: Params) -> str:
    """The index of the bucket a timestamp of the period falls in (0, 1, ...): PostgreSQL's
    width_bucket (a binary search over the buckets' starts), on SQLite a CASE over them."""
    if params.postgres:
        bounds = params.add([b.start for b in period.buckets], "timestamptz[]")
        return f"(width_bucket({column}, {bounds}) - 1)"
    cases = " ".join(
        f"WHEN {column} >= {params.add(b.start)} THEN {i}"
        for i, b in reversed(list(enumerate(period.buckets)))
    )
    return f"(CASE {cases} END)"


def _narrows(scope: Scope) -> bool:
    return any(v is not None for v in (scope.task_id, scope.project_id, scope.variant_group))


def _tasks(scope: Scope, alias: str) -> str:
    """The join to the rows' tasks, only when the scope is narrower than the account: a
    row's own account_id says the rest, and lets the database read the (account, time)
    index alone."""
    return f" JOIN task t ON t.id = {alias}.task_id" if _narrows(scope) else ""


def _in_period(
    scope: Scope, period: Period, params: Params, alias: str = "s", column: str = "created_at"
) -> str:
    """The scope's rows of `alias` (submissions, ledger entries; joined by `_tasks`) whose
    `column` falls in the period: for submissions started in it, the cohort."""
    where = [f"{alias}.account_id = {params.add(scope.account_id)}"]
    if _narrows(scope):
        where.append(_scope(scope, params))
    where.append(_within(f"{alias}.{column}", period, params))
    return " AND ".join(where)


def _spans(column: str, spans: Spans, params: Params) -> str:
    """`column` within any of the spans (an end of None: no end), as one condition."""
    return "(" + " OR ".join(f"({_from(lo, hi, column, params)})" for lo, hi in spans) + ")"


def _in_quarter_hours(period: Period) -> bool:
    """Whether the period's local days, weeks and hours are unions of UTC quarter hours:
    the zone's offset a multiple of 15 minutes all along (every zone's today; not the local
    mean times of before about 1900). Checked at every bucket's start."""
    return all(
        (bucket.start.astimezone(period.zone).utcoffset() or timedelta()) % tallies.SLOT
        == timedelta()
        for bucket in period.buckets
    )


def _where(scope: Scope, alias: str, params: Params, *more: Callable[[], str]) -> str:
    """The scope's rows of `alias` (joined to `t` by `_tasks` when narrower than the
    account) and the conditions `more` makes, placeholders added in the statement's order
    (SQLite's are positional)."""
    conditions = [f"{alias}.account_id = {params.add(scope.account_id)}"]
    if _narrows(scope):
        conditions.append(_scope(scope, params))
    conditions += [condition() for condition in more]
    return " AND ".join(conditions)


def _from(lo: Any, hi: Any, column: str, params: Params) -> str:
    return f"{column} >= {params.add(lo)}" + (f" AND {column} < {params.add(hi)}" if hi else "")


Spans = tuple[tuple[datetime, datetime | None], ...]


def _union(
    start: datetime,
    end: datetime | None,
    unit: timedelta | None,
    alias: str,
    tallied: Callable[[datetime, datetime | None], str],
    counted: Callable[[Spans], str],
) -> str:
    """A source of rows for a period from `start` to `end` (None: no end): `tallied`
    selects the whole units (quarter hours, days) from a tally, `counted` the edges from
    the rows themselves (all of it when `unit` is None: no tally can answer), in one
    UNION ALL named `alias`. They are called in the statement's order, for the
    placeholders."""
    cut = tallies.split(start, end, unit) if unit else tallies.Split(None, ((start, end),))
    parts = []
    if cut.whole is not None:
        parts.append(tallied(*cut.whole))
    if cut.edges:
        parts.append(counted(cut.edges))
    return f"({' UNION ALL '.join(parts)}) {alias}"


def _cohort_rows(scope: Scope, period: Period, params: Params, by_worker: bool = False) -> str:
    """The cohort as rows of (at and task_id, or worker_id; state, sent, revised, n,
    micros): whole UTC
    quarter hours (by worker across the account, whole UTC days) from a tally, the rest of
    the period from the submissions. Rows by time are grouped by local time, which a zone
    of odd offsets (`_in_quarter_hours`) must read from the submissions alone."""
    if by_worker:
        unit = tallies.DAY if not _narrows(scope) else None
    else:
        unit = tallies.SLOT if _in_quarter_hours(period) else None

    def tallied(lo: datetime, hi: datetime | None) -> str:
        if by_worker:
            source, picked = "submission_worker_day_tally x", "x.worker_id AS worker_id"
            whole = partial(_from, lo.date(), hi and hi.date(), "x.day", params)
        else:
            source, picked = "submission_slot_tally x", "x.slot AS at, x.task_id AS task_id"
            whole = partial(_from, lo, hi, "x.slot", params)
        join = " JOIN task t ON t.id = x.task_id" if _narrows(scope) else ""
        return (
            f"SELECT {picked}, x.state AS state, x.sent AS sent, x.revised AS revised, "
            f"x.starts AS n, x.micros AS micros FROM {source}{join} "
            f"WHERE {_where(scope, 'x', params, whole)}"
        )

    def counted(spans: Spans) -> str:
        picked = (
            "s.worker_id AS worker_id" if by_worker else "s.created_at AS at, s.task_id AS task_id"
        )
        micros = micros_between("s.first_submitted_at", "s.created_at", params.postgres)
        edges = partial(_spans, "s.created_at", spans, params)
        return (
            f"SELECT {picked}, s.state AS state, s.first_submitted_at IS NOT NULL AS "
            f"sent, s.revision_count > 0 AS revised, 1 AS n, {micros} AS micros "
            f"FROM submission s{_tasks(scope, 's')} WHERE {_where(scope, 's', params, edges)}"
        )

    return _union(period.start, period.end, unit, "c", tallied, counted)


# Money spent: ledger entries into TASK_SPENT (pay, bonuses, partial payments).
_SPENT = f"x.to_bucket = '{LedgerBucket.TASK_SPENT}'"


def _spent_rows(
    scope: Scope,
    start: datetime,
    end: datetime | None,
    params: Params,
    local: Period | None = None,
) -> str:
    """The money spent on the scope's tasks from `start` to `end` (None: no end) as rows
    of (at, task_id, reason, amount_minor): whole UTC quarter hours from the ledger's
    tally, the rest from its entries. `local`: grouped by that period's local time (see
    `_cohort_rows`)."""
    unit = tallies.SLOT if local is None or _in_quarter_hours(local) else None
    join = " JOIN task t ON t.id = x.task_id" if _narrows(scope) else ""

    def tallied(lo: datetime, hi: datetime | None) -> str:
        slots = partial(_from, lo, hi, "x.slot", params)
        return (
            "SELECT x.slot AS at, x.task_id AS task_id, x.reason AS reason, "
            f"x.amount_minor AS amount_minor FROM ledger_slot_tally x{join} "
            f"WHERE {_SPENT} AND {_where(scope, 'x', params, slots)}"
        )

    def counted(spans: Spans) -> str:
        edges = partial(_spans, "x.created_at", spans, params)
        return (
            "SELECT x.created_at AS at, x.task_id AS task_id, x.reason AS reason, "
            f"x.amount_minor AS amount_minor FROM ledger_entry x{join} "
            f"WHERE {_SPENT} AND {_where(scope, 'x', params, edges)}"
        )

    return _union(start, end, unit, "m", tallied, counted)


def _earned_rows(scope: Scope, period: Period, params: Params) -> str:
    """What each worker was paid in the period on the scope's tasks, as rows of
    (worker_id, amount_minor): across the account, whole UTC days from the ledger's worker
    tally, the rest from its entries (a narrower scope: all of it)."""
    unit = tallies.DAY if not _narrows(scope) else None

    def tallied(lo: datetime, hi: datetime | None) -> str:
        days = partial(_from, lo.date(), hi and hi.date(), "x.day", params)
        return (
            "SELECT x.worker_id AS worker_id, x.amount_minor AS amount_minor "
            f"FROM ledger_worker_day_tally x WHERE {_SPENT} AND {_where(scope, 'x', params, days)}"
        )

    def counted(spans: Spans) -> str:
        edges = partial(_spans, "x.created_at", spans, params)
        return (
            "SELECT x.worker_id AS worker_id, x.amount_minor AS amount_minor "
            f"FROM ledger_entry x{_tasks(scope, 'x')} WHERE {_SPENT} "
            f"AND x.worker_id IS NOT NULL AND {_where(scope, 'x', params, edges)}"
        )

    return _union(period.start, period.end, unit, "e", tallied, counted)


async def _one(reads: Reads, sql: str, params: Params) -> dict[str, Any]:
    return await report_reads.one(reads, sql, params.values)


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What a group of the cohort's submissions add up to."""

    starts: int = 0
    submitted: int = 0
    abandoned: int = 0
    decided: int = 0
    accepted: int = 0
    rejected: int = 0
    first_attempt_accepted: int = 0
    revised: int = 0
    seconds_sum: float = 0.0
    seconds_count: int = 0
    workers: int = 0

    @property
    def mean_seconds(self) -> float | None:
        return self.seconds_sum / self.seconds_count if self.seconds_count else None


@dataclass(frozen=True)
class Cohort:
    """The submissions started in the period, counted whole and by bucket, worker,
    country, local hour and local weekday."""

    total: Counts
    buckets: dict[int, Counts]
    workers: dict[int, Counts]
    countries: dict[str, int]
    hours: dict[int, int]
    weekdays: dict[int, int]


# What a group of the cohort's rows (`_cohort_rows`) adds up to, read by `_counts`.
_COUNTED = (
    "SUM(c.n) AS starts, "
    f"{_sum_if('c.sent')} AS submitted, "
    f"{_sum_if(ABANDONED)} AS abandoned, "
    f"{_sum_if(f'c.state IN ({_states((*ACCEPTED, *REJECTED))})')} AS decided, "
    f"{_sum_if(f'c.state IN ({_states(ACCEPTED)})')} AS accepted, "
    f"{_sum_if(f'c.state IN ({_states(REJECTED)})')} AS rejected, "
    f"{_sum_if(f'c.state IN ({_states(ACCEPTED)}) AND NOT c.revised')} AS first, "
    f"{_sum_if('c.revised')} AS revised, "
    "SUM(c.micros) AS micros"
)


def _counts(row: dict[str, Any]) -> Counts:
    return Counts(
        starts=_int(row["starts"]),
        submitted=_int(row["submitted"]),
        abandoned=_int(row["abandoned"]),
        decided=_int(row["decided"]),
        accepted=_int(row["accepted"]),
        rejected=_int(row["rejected"]),
        first_attempt_accepted=_int(row["first"]),
        revised=_int(row["revised"]),
        seconds_sum=_int(row["micros"]) / 1_000_000,
        # Each submitted start has a time to complete.
        seconds_count=_int(row["submitted"]),
    )


async def cohort(reads: Reads, scope: Scope, period: Period) -> Cohort:
    """Three grouped reads of the cohort (`_cohort_rows`: the tallies and the edges' rows),
    side by side on PostgreSQL (where the report has a second connection): by bucket, by
    worker (with the worker's country; the whole is the sum over the workers), and by
    local hour and weekday together (each is the sum over the other)."""
    postgres = reads.postgres

    def local(params: Params) -> str:
        if postgres:
            return f"(c.at AT TIME ZONE {params.add(period.zone.key)})"
        # SQLite knows no time zones: the period is cut into spans of one UTC offset
        # (summer time changes it), and each start is shifted by its span's offset.
        return _shifted("c.at", period, params)

    async def grouped(
        keys: str, count: int, params: Params, worker: bool = False
    ) -> list[dict[str, Any]]:
        # Placeholders are added in the order the statement names them (SQLite's are
        # positional): the keys' first, then the cohort's.
        rows = _cohort_rows(scope, period, params, by_worker=worker)
        join = " JOIN worker w ON w.id = c.worker_id" if worker else ""
        return await reads.rows(
            f"SELECT {keys}, {_COUNTED} FROM {rows}{join} "
            f"GROUP BY {', '.join(str(n + 1) for n in range(count))}",
            params.values,
        )

    by_bucket = Params(postgres)
    bucket_keys = f"{_bucket_of('c.at', period, by_bucket)} AS bucket"
    by_worker = Params(postgres)
    by_time = Params(postgres)
    if postgres:
        time_keys = (
            f"EXTRACT(HOUR FROM {local(by_time)}) AS hour, "
            f"EXTRACT(ISODOW FROM {local(by_time)}) AS dow"
        )
    else:
        time_keys = (
            f"CAST(strftime('%H', {local(by_time)}) AS INTEGER) AS hour, "
            f"((CAST(strftime('%w', {local(by_time)}) AS INTEGER) + 6) % 7 + 1) AS dow"
        )
    statements = (
        grouped(bucket_keys, 1, by_bucket),
        grouped("c.worker_id AS worker_id, w.country AS country", 2, by_worker, worker=True),
        grouped(time_keys, 2, by_time),
    )
    if postgres:
        buckets_rows, worker_rows, time_rows = await report_reads.side_by_side(*statements)
    else:
        buckets_rows, worker_rows, time_rows = [await statement for statement in statements]

    per_worker = {int(r["worker_id"]): _counts(r) for r in worker_rows}
    countries: dict[str, int] = {}
    for row in worker_rows:
        countries[str(row["country"])] = countries.get(str(row["country"]), 0) + _int(row["starts"])
    hours: dict[int, int] = {}
    weekdays: dict[int, int] = {}
    for row in time_rows:
        hours[int(row["hour"])] = hours.get(int(row["hour"]), 0) + _int(row["starts"])
        weekdays[int(row["dow"])] = weekdays.get(int(row["dow"]), 0) + _int(row["starts"])
    per_bucket = {int(r["bucket"]): _counts(r) for r in buckets_rows if r["bucket"] is not None}
    parts = list(per_worker.values())
    total = Counts(
        **{
            name: sum(getattr(part, name) for part in parts)
            for name in (
                "starts",
                "submitted",
                "abandoned",
                "decided",
                "accepted",
                "rejected",
                "first_attempt_accepted",
                "revised",
                "seconds_sum",
                "seconds_count",
            )
        },
        workers=len(per_worker),
    )
    return Cohort(
        total=total,
        buckets=per_bucket,
        workers=per_worker,
        countries=countries,
        hours=hours,
        weekdays=weekdays,
    )


async def engagement(reads: Reads, scope: Scope, period: Period, work: Cohort) -> Engagement:
    params = Params(reads.postgres)
    views = await _one(
        reads,
        "SELECT COUNT(*) AS views, COUNT(DISTINCT v.worker_id) AS viewers "
        "FROM task_view v JOIN task t ON t.id = v.task_id "
        f"WHERE {_scope(scope, params)} AND {_within('v.created_at', period, params)}",
        params,
    )
    return Engagement(
        views=_int(views.get("views")),
        unique_viewers=_int(views.get("viewers")),
        starts=work.total.starts,
        submitted=work.total.submitted,
        abandoned=work.total.abandoned,
        time_to_complete=await _durations(reads, scope, period, work),
    )


def _duration_rows(scope: Scope, period: Period, params: Params) -> str:
    """The cohort's sent submissions as rows of (seconds, n), their times to complete in
    whole seconds to three significant figures (`sql.duration_bin`): whole UTC days from
    the duration tally, the rest of the period from the submissions."""

    def tallied(lo: datetime, hi: datetime | None) -> str:
        days = partial(_from, lo.date(), hi and hi.date(), "x.day", params)
        join = " JOIN task t ON t.id = x.task_id" if _narrows(scope) else ""
        return (
            f"SELECT x.seconds AS seconds, x.starts AS n FROM submission_duration_tally x{join} "
            f"WHERE {_where(scope, 'x', params, days)}"
        )

    def counted(spans: Spans) -> str:
        edges = partial(_spans, "s.created_at", spans, params)
        binned = duration_bin("s.first_submitted_at", "s.created_at", params.postgres)
        return (
            f"SELECT {binned} AS seconds, 1 AS n FROM submission s{_tasks(scope, 's')} "
            f"WHERE {_where(scope, 's', params, edges)} AND s.first_submitted_at IS NOT NULL"
        )

    return _union(period.start, period.end, tallies.DAY, "d", tallied, counted)


async def _durations(reads: Reads, scope: Scope, period: Period, work: Cohort) -> Durations:
    """The mean is exact (the cohort's sum of microseconds); the percentiles are of the
    durations in whole seconds to three significant figures, interpolated as
    percentile_cont does, from one grouped read of at most a few thousand bins a task and
    day (the same on both databases)."""
    params = Params(reads.postgres)
    rows = await reads.rows(
        f"SELECT d.seconds AS seconds, SUM(d.n) AS n FROM {_duration_rows(scope, period, params)} "
        "GROUP BY d.seconds",
        params.values,
    )
    histogram = [(float(r["seconds"]), _int(r["n"])) for r in rows]
    return Durations(
        work.total.seconds_count,
        work.total.mean_seconds,
        percentile(histogram, 0.5),
        percentile(histogram, 0.9),
    )


async def quality(reads: Reads, scope: Scope, period: Period, work: Cohort) -> Quality:
    postgres = reads.postgres
    params = Params(postgres)
    disputes = await reads.rows(
        "SELECT d.status AS status, COUNT(*) AS n FROM dispute d "
        f"JOIN submission s ON s.id = d.submission_id{_tasks(scope, 's')} "
        f"WHERE {_in_period(scope, period, params)} GROUP BY d.status",
        params.values,
    )
    params = Params(postgres)
    ratings = await _one(
        reads,
        "SELECT COUNT(*) AS n, AVG(r.clarity * 1.0) AS clarity, AVG(r.fairness * 1.0) AS fairness "
        "FROM task_rating r JOIN task t ON t.id = r.task_id "
        f"WHERE {_scope(scope, params)} AND {_within('r.created_at', period, params)}",
        params,
    )
    params = Params(postgres)
    # The workers who have taken two or more of the account's tasks: one row per task and
    # worker in the slot counters, far fewer than their submissions.
    repeat = await reads.rows(
        "SELECT a.worker_id AS w FROM task_worker_counter a JOIN task b ON b.id = a.task_id "
        f"WHERE b.account_id = {params.add(scope.account_id)} "
        "GROUP BY a.worker_id HAVING COUNT(*) >= 2",
        params.values,
    )
    return Quality(
        decided=work.total.decided,
        accepted=work.total.accepted,
        rejected=work.total.rejected,
        first_attempt_accepted=work.total.first_attempt_accepted,
        submitted=work.total.submitted,
        revised=work.total.revised,
        # Every rejected, disputed or partly paid submission was rejected once, and so was
        # an approved one whose rejection a dispute overturned.
        rejections=work.total.rejected
        + next((_int(r["n"]) for r in disputes if r["status"] == DisputeStatus.OVERTURNED), 0),
        disputes={
            status: next((_int(r["n"]) for r in disputes if r["status"] == status), 0)
            for status in DisputeStatus
        },
        ratings=_int(ratings.get("n")),
        mean_clarity=_float(ratings.get("clarity")),
        mean_fairness=_float(ratings.get("fairness")),
        workers=len(work.workers),
        repeat_workers=len(work.workers.keys() & {int(r["w"]) for r in repeat}),
    )


async def spending(reads: Reads, scope: Scope, period: Period) -> Spending:
    postgres = reads.postgres
    params = Params(postgres)
    money = await _one(
        reads,
        "SELECT SUM(m.amount_minor) AS spend, "
        f"SUM(CASE WHEN m.reason = '{LedgerReason.BONUS}' THEN m.amount_minor ELSE 0 END) "
        f"AS bonuses FROM {_spent_rows(scope, period.start, period.end, params)}",
        params,
    )
    params = Params(postgres)
    approved = await _one(
        reads,
        f"SELECT COUNT(*) AS n FROM submission s{_tasks(scope, 's')} "
        f"WHERE {_in_period(scope, period, params, column='reviewed_at')} "
        f"AND s.state IN ({_states(PAID_STATES)})",
        params,
    )
    return Spending(_int(money.get("spend")), _int(money.get("bonuses")), _int(approved.get("n")))


def by_country(work: Cohort) -> list[Share]:
    """Starts by the worker's country, most first."""
    total = sum(work.countries.values())
    ordered = sorted(work.countries.items(), key=lambda item: (-item[1], item[0]))
    return [Share(country, count, total) for country, count in ordered]


def by_local_time(work: Cohort, part: str) -> list[Share]:
    """Starts by local hour of day (`part` "hour": "0".."23") or ISO day of week ("dow":
    "1" Monday .. "7" Sunday), every key present, in order."""
    counts = work.hours if part == "hour" else work.weekdays
    keys = range(24) if part == "hour" else range(1, 8)
    total = sum(counts.values())
    return [Share(str(k), counts.get(k, 0), total) for k in keys]


def offset_spans(period: Period) -> list[tuple[datetime, int]]:
    """Where the zone's UTC offset changes within the period: (from when, offset in
    seconds), the first at the period's start. Checked at every quarter hour of UTC, where
    every zone's changes fall."""
    spans: list[tuple[datetime, int]] = []
    moment = period.start
    while moment < period.end:
        offset = moment.astimezone(period.zone).utcoffset()
        seconds = int(offset.total_seconds()) if offset is not None else 0
        if not spans or spans[-1][1] != seconds:
            spans.append((moment, seconds))
        quarter = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
        moment = quarter + timedelta(minutes=15)
    return spans


def _shifted(column: str, period: Period, params: Params) -> str:
    spans = offset_spans(period)
    cases = " ".join(
        f"WHEN {column} >= {params.add(start)} THEN datetime({column}, '{seconds:+d} seconds')"
        for start, seconds in reversed(spans)
    )
    return f"(CASE {cases} END)"


async def buckets(reads: Reads, scope: Scope, period: Period, work: Cohort) -> list[BucketFigures]:
    postgres = reads.postgres

    params = Params(postgres)
    index = _bucket_of("v.created_at", period, params)
    views = await reads.rows(
        f"SELECT {index} AS i, COUNT(*) AS n FROM task_view v JOIN task t ON t.id = v.task_id "
        f"WHERE {_scope(scope, params)} AND {_within('v.created_at', period, params)} GROUP BY 1",
        params.values,
    )
    params = Params(postgres)
    index = _bucket_of("m.at", period, params)
    money = await reads.rows(
        f"SELECT {index} AS i, SUM(m.amount_minor) AS spend "
        f"FROM {_spent_rows(scope, period.start, period.end, params, local=period)} GROUP BY 1",
        params.values,
    )
    viewed = {int(r["i"]): _int(r["n"]) for r in views}
    spent = {int(r["i"]): _int(r["spend"]) for r in money}
    return [
        BucketFigures(
            bucket=bucket,
            views=viewed.get(i, 0),
            starts=work.buckets.get(i, Counts()).starts,
            submitted=work.buckets.get(i, Counts()).submitted,
            accepted=work.buckets.get(i, Counts()).accepted,
            rejected=work.buckets.get(i, Counts()).rejected,
            spend_minor=spent.get(i, 0),
        )
        for i, bucket in enumerate(period.buckets)
    ]


async def workers(reads: Reads, scope: Scope, period: Period, work: Cohort) -> list[WorkerFigures]:
    """Each worker with work started in the period: most submitted first."""
    if not work.workers:
        return []
    postgres = reads.postgres
    params = Params(postgres)
    earnings = await reads.rows(
        "SELECT e.worker_id AS w, SUM(e.amount_minor) AS n "
        f"FROM {_earned_rows(scope, period, params)} GROUP BY e.worker_id",
        params.values,
    )
    params = Params(postgres)
    firings = await reads.rows(
        # The account's firings, also of rules on a whole project (no task); a narrower
        # scope counts those that name one of its tasks.
        f"SELECT f.worker_id AS w, COUNT(*) AS n FROM rule_firing f{_tasks(scope, 'f')} "
        f"WHERE {_in_period(scope, period, params, 'f')} AND f.worker_id IS NOT NULL "
        "GROUP BY f.worker_id",
        params.values,
    )
    paid = {int(r["w"]): _int(r["n"]) for r in earnings}
    fired = {int(r["w"]): _int(r["n"]) for r in firings}
    found = [
        WorkerFigures(
            worker_id=worker,
            starts=counts.starts,
            submitted=counts.submitted,
            accepted=counts.accepted,
            rejected=counts.rejected,
            mean_seconds=counts.mean_seconds,
            earnings_minor=paid.get(worker, 0),
            rule_firings=fired.get(worker, 0),
        )
        for worker, counts in work.workers.items()
    ]
    return sorted(found, key=lambda f: (-f.submitted, f.worker_id))


async def variants(reads: Reads, scope: Scope, period: Period) -> list[VariantFigures]:
    """The tasks of a scope (a variant group's), oldest first (the first is the control):
    each task's cohort as the whole's is counted, and its views."""
    postgres = reads.postgres
    params = Params(postgres)
    work = await reads.rows(
        f"SELECT t.id AS task, {_COUNTED} FROM task t "
        f"LEFT JOIN {_cohort_rows(scope, period, params)} ON c.task_id = t.id "
        f"WHERE {_scope(scope, params)} GROUP BY t.id ORDER BY t.id",
        params.values,
    )
    params = Params(postgres)
    views = await reads.rows(
        "SELECT v.task_id AS task, COUNT(*) AS n FROM task_view v JOIN task t ON t.id = v.task_id "
        f"WHERE {_scope(scope, params)} AND {_within('v.created_at', period, params)} "
        "GROUP BY v.task_id",
        params.values,
    )
    viewed = {int(r["task"]): _int(r["n"]) for r in views}
    found = []
    for row in work:
        counts = _counts(row)
        found.append(
            VariantFigures(
                task_id=int(row["task"]),
                views=viewed.get(int(row["task"]), 0),
                starts=counts.starts,
                submitted=counts.submitted,
                accepted=counts.accepted,
                decided=counts.decided,
            )
        )
    return found


def compare(figures: Sequence[VariantFigures]) -> list[VariantComparison]:
    """Each variant after the first against the first, for completion and approval."""
    if not figures:
        return []
    control = figures[0]
    return [
        VariantComparison(
            control=control,
            variant=variant,
            completion=two_proportion_test(
                control.submitted, control.starts, variant.submitted, variant.starts
            ),
            approval=two_proportion_test(
                control.accepted, control.decided, variant.accepted, variant.decided
            ),
        )
        for variant in figures[1:]
    ]


async def budget_plan(reads: Reads, account_id: int) -> list[BudgetPlan]:
    """Every task of the account with money in it, by remaining budget, least first."""
    params = Params(reads.postgres)
    # Added in the order the statement names them (SQLite's placeholders are positional).
    since = clock.now() - timedelta(days=RECENT_SPEND_DAYS)
    spent = _spent_rows(Scope(account_id), since, None, params)
    account = params.add(account_id)
    rows = await reads.rows(
        "SELECT t.id AS task, t.budget_minor AS budget, t.committed_minor AS committed, "
        "t.spent_minor AS spent, t.remaining_minor AS remaining, "
        "COALESCE(r.spend, 0) AS recent FROM task t LEFT JOIN ("
        f"SELECT m.task_id, SUM(m.amount_minor) AS spend FROM {spent} GROUP BY m.task_id) r "
        f"ON r.task_id = t.id WHERE t.account_id = {account} AND t.budget_minor > 0 "
        "ORDER BY t.remaining_minor, t.id",
        params.values,
    )
    return [
        BudgetPlan(
            task_id=int(r["task"]),
            budget_minor=_int(r["budget"]),
            committed_minor=_int(r["committed"]),
            spent_minor=_int(r["spent"]),
            remaining_minor=_int(r["remaining"]),
            recent_daily_spend_minor=_int(r["recent"]) / RECENT_SPEND_DAYS,
        )
        for r in rows
    ]


# --- reports: each one snapshot (services/report_reads.py) -------------------------------------


class Group(StrEnum):
    """A group of figures a report can be asked for."""

    ENGAGEMENT = "engagement"
    QUALITY = "quality"
    SPENDING = "spending"
    DISTRIBUTIONS = "distributions"
    BUCKETS = "buckets"
    WORKERS = "workers"


# All but the money are about the cohort, which is read once for all of them.
_OF_THE_COHORT = frozenset(Group) - {Group.SPENDING}


@dataclass(frozen=True)
class Report:
    """The groups of figures asked for; None for those not asked for."""

    engagement: Engagement | None = None
    quality: Quality | None = None
    spending: Spending | None = None
    cohort: Cohort | None = None
    buckets: list[BucketFigures] | None = None
    workers: list[WorkerFigures] | None = None


T = TypeVar("T")


def asked(part: T | None) -> T:
    """A group of a report that was asked for: a report computes every group asked for."""
    if part is None:
        raise RuntimeError("a group of figures that was asked for was not computed")
    return part


async def report(scope: Scope, period: Period, groups: frozenset[Group]) -> Report:
    """The figures of `groups` for the scope over the period, all of one snapshot."""
    async with report_reads.snapshot() as reads:
        work = await cohort(reads, scope, period) if groups & _OF_THE_COHORT else None

        async def part(group: Group) -> Any:
            if group not in groups:
                return None
            if group is Group.SPENDING:
                return await spending(reads, scope, period)
            assert work is not None
            if group is Group.ENGAGEMENT:
                return await engagement(reads, scope, period, work)
            if group is Group.QUALITY:
                return await quality(reads, scope, period, work)
            if group is Group.BUCKETS:
                return await buckets(reads, scope, period, work)
            if group is Group.WORKERS:
                return await workers(reads, scope, period, work)
            return work

        found = await report_reads.side_by_side(*(part(group) for group in Group))
    figures = dict(zip(Group, found, strict=True))
    return Report(
        engagement=figures[Group.ENGAGEMENT],
        quality=figures[Group.QUALITY],
        spending=figures[Group.SPENDING],
        cohort=work if Group.DISTRIBUTIONS in groups else None,
        buckets=figures[Group.BUCKETS],
        workers=figures[Group.WORKERS],
    )


async def variant_report(scope: Scope, period: Period) -> list[VariantFigures]:
    async with report_reads.snapshot() as reads:
        return await variants(reads, scope, period)


async def budget_plans(account_id: int) -> list[BudgetPlan]:
    async with report_reads.snapshot() as reads:
        return await budget_plan(reads, account_id)
