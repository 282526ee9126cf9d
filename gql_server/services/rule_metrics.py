"""Loading what rule conditions measure: SQL aggregates over workers' histories.

Each worker-history rule type reads one source (reviewed submissions, payments, submitted
submissions, audited submissions). One query per source and window computes every needed
count or sum for any number of workers at once: `COUNT` / `SUM(CASE ...)` over the rows in
scope, and for "the N most recent" a `ROW_NUMBER()` window partitioned by worker. The same
SQL runs on SQLite and PostgreSQL; only placeholders and the time arithmetic of fast
responses differ. Shares and bounds are derived from these counts by `rules.metrics`.

AUTOMATION metrics are about one submission or one task, read from their rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.connection import get_connection
from tortoise.functions import Count

from gql_server.models import Restriction, Submission, Task, WorkerSkill
from gql_server.models.enums import (
    AuditOutcome,
    LedgerReason,
    RestrictionKind,
)
from gql_server.models.vocabulary import RULE_ACCEPTED_STATES, RULE_REJECTED_STATES
from gql_server.rules.history import BanPeriod, HistoryScope, history_restart
from gql_server.rules.metrics import Loaded, Metric, MetricRef
from gql_server.rules.vocabulary import RuleType
from gql_server.services.sql import Params

M = Metric

PAYMENT_REASONS = (LedgerReason.PAY, LedgerReason.BONUS, LedgerReason.PARTIAL_PAYMENT)
# Worker ids per IN list: far below every placeholder limit.
_CHUNK = 500


class Source(StrEnum):
    REVIEWS = "REVIEWS"
    EARNINGS = "EARNINGS"
    SUBMITTED = "SUBMITTED"
    AUDITS = "AUDITS"


SOURCE_OF: Mapping[RuleType, Source] = {
    RuleType.REVIEW_RESULTS: Source.REVIEWS,
    RuleType.EARNINGS: Source.EARNINGS,
    RuleType.SUBMITTED_ANSWERS: Source.SUBMITTED,
    RuleType.FAST_RESPONSES: Source.SUBMITTED,
    RuleType.AUDIT_RESULTS: Source.AUDITS,
}


def _in(values: Iterable[str]) -> str:
    # Our own enumeration values, never input: safe to inline as literals.
    return ", ".join(f"'{value}'" for value in values)


@dataclass(frozen=True)
class _Table:
    """Where a source's rows are and how they are filtered, ordered and measured."""

    table: str
    # Row filters besides scope and worker; `{since}` is the placeholder of the window start.
    where: str
    since_column: str
    order: str
    # The columns the aggregates read.
    columns: tuple[str, ...]


_TABLES: Mapping[Source, _Table] = {
    Source.REVIEWS: _Table(
        "submission",
        f"r.state IN ({_in([*RULE_ACCEPTED_STATES, *RULE_REJECTED_STATES])}) "
        "AND r.reviewed_at IS NOT NULL",
        "reviewed_at",
        "r.reviewed_at DESC, r.id DESC",
        ("state",),
    ),
    Source.EARNINGS: _Table(
        "ledger_entry",
        f"r.reason IN ({_in(PAYMENT_REASONS)}) AND r.worker_id IS NOT NULL",
        "created_at",
        "r.created_at DESC, r.id DESC",
        ("amount_minor",),
    ),
    Source.SUBMITTED: _Table(
        "submission",
        "r.first_submitted_at IS NOT NULL",
        "first_submitted_at",
        "r.first_submitted_at DESC, r.id DESC",
        ("first_submitted_at", "created_at"),
    ),
    Source.AUDITS: _Table(
        "submission",
        "r.audit_status IS NOT NULL",
        "last_audited_at",
        "r.last_audited_at DESC, r.id DESC",
        ("audit_status",),
    ),
}


def _count_if(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _fast(threshold_seconds: int, postgres: bool) -> str:
    """Submitted less than `threshold_seconds` after the start (the threshold is a whole number
    validated with the rule). SQLite's date functions work in whole milliseconds on both
    sides, so exactly the threshold is not "faster"."""
    seconds = int(threshold_seconds)
    if postgres:
        return f"h.first_submitted_at < h.created_at + INTERVAL '{seconds} seconds'"
    return f"julianday(h.first_submitted_at) < julianday(h.created_at, '+{seconds} seconds')"


def _aggregate(ref: MetricRef, postgres: bool) -> str:
    """The SQL aggregate of one loaded metric over the rows `h` of its source."""
    match ref.metric:
        case M.REVIEWED_COUNT | M.SUBMITTED_COUNT | M.RECENT_COUNT | M.AUDITED_COUNT:
            return "COUNT(*)"
        case M.ACCEPTED_COUNT:
            return _count_if(f"h.state IN ({_in(RULE_ACCEPTED_STATES)})")
        case M.REJECTED_COUNT:
            return _count_if(f"h.state IN ({_in(RULE_REJECTED_STATES)})")
        case M.INCOME_LAST_24_HOURS:
            return "SUM(h.amount_minor)"
        case M.FAST_COUNT:
            assert ref.parameter is not None
            return _count_if(_fast(ref.parameter, postgres))
        case M.AUDIT_ACCEPTED_COUNT:
            return _count_if(f"h.audit_status = '{AuditOutcome.ACCEPTED}'")
        case M.AUDIT_FIXED_COUNT:
            return _count_if(f"h.audit_status = '{AuditOutcome.FIXED}'")
        case M.AUDIT_REJECTED_COUNT:
            return _count_if(f"h.audit_status = '{AuditOutcome.REJECTED}'")
    raise ValueError(f"{ref.key} is not a history metric")


@dataclass(frozen=True)
class Scope:
    """Whose rows count: one task, or every task of a project; per task or all together."""

    scope: HistoryScope
    task_id: int | None = None
    project_id: int | None = None
    # Group by task as well (a dry run of a project's rule over task windows).
    per_task: bool = False


# (worker id, task id when grouped per task) -> values
HistoryKey = tuple[int, int | None]


async def load_history(
    source: Source,
    refs: Iterable[MetricRef],
    scope: Scope,
    *,
    limit: int | None,
    since: datetime | None,
    worker_ids: Sequence[int] | None,
) -> dict[HistoryKey, dict[MetricRef, Loaded]]:
    """Every metric of `refs` for each worker (and task) with rows in scope.

    `worker_ids` None: every worker with history in scope. A worker without rows is absent
    from the result: all of their counts and sums are 0.
    """
    wanted = tuple(dict.fromkeys(refs))
    if worker_ids is not None and not worker_ids:
        return {}
    if worker_ids is None:
        return await _load_chunk(source, wanted, scope, limit, since, None)
    found: dict[HistoryKey, dict[MetricRef, Loaded]] = {}
    ids = list(dict.fromkeys(worker_ids))
    for start in range(0, len(ids), _CHUNK):
        found |= await _load_chunk(source, wanted, scope, limit, since, ids[start : start + _CHUNK])
    return found


async def _load_chunk(
    source: Source,
    refs: tuple[MetricRef, ...],
    scope: Scope,
    limit: int | None,
    since: datetime | None,
    worker_ids: list[int] | None,
) -> dict[HistoryKey, dict[MetricRef, Loaded]]:
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    params = Params(postgres)
    table = _TABLES[source]
    where = [table.where]
    if scope.scope is HistoryScope.TASK and not scope.per_task:
        where.append(f"r.task_id = {params.add(scope.task_id)}")
    else:
        project = params.add(scope.project_id)
        where.append(f"r.task_id IN (SELECT t.id FROM task t WHERE t.project_id = {project})")
    if worker_ids is not None:
        where.append(f"r.worker_id IN ({params.many(worker_ids)})")
    if since is not None:
        where.append(f"r.{table.since_column} >= {params.add(since)}")
    group = ["worker_id", "task_id"] if scope.per_task else ["worker_id"]
    columns = ", ".join(f"r.{c}" for c in ("worker_id", "task_id", *table.columns))
    ranked = ""
    if limit is not None:
        partition = ", ".join(f"r.{c}" for c in group)
        ranked = f", ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {table.order}) AS rn"
    inner = f"SELECT {columns}{ranked} FROM {table.table} r WHERE {' AND '.join(where)}"
    outer_where = f" WHERE h.rn <= {int(limit)}" if limit is not None else ""
    aggregates = ", ".join(f"{_aggregate(ref, postgres)} AS m{i}" for i, ref in enumerate(refs))
    keys = ", ".join(f"h.{c}" for c in group)
    sql = f"SELECT {keys}, {aggregates} FROM ({inner}) h{outer_where} GROUP BY {keys}"
    rows = await connection.execute_query_dict(sql, params.values)
    return {
        (int(row["worker_id"]), int(row["task_id"]) if scope.per_task else None): {
            ref: int(row[f"m{i}"] or 0) for i, ref in enumerate(refs)
        }
        for row in rows
    }


def zeros(refs: Iterable[MetricRef]) -> dict[MetricRef, Loaded]:
    """The history metrics of a worker without rows in scope."""
    return dict.fromkeys(refs, 0)


async def history_restarts(
    account_id: int, worker_ids: Sequence[int] | None, now: datetime
) -> dict[int, datetime]:
    """When each worker's rule history starts afresh: the end of their latest ban in the
    account that is over (`rules.history.history_restart`). Workers without one are absent."""
    query = Restriction.filter(account_id=account_id, kind=RestrictionKind.BAN)
    if worker_ids is not None:
        if not worker_ids:
            return {}
        query = query.filter(worker_id__in=list(worker_ids))
    bans: dict[int, list[BanPeriod]] = {}
    for worker_id, ends_at, lifted_at in await query.values_list(
        "worker_id", "ends_at", "lifted_at"
    ):
        bans.setdefault(worker_id, []).append(BanPeriod(ends_at, lifted_at))
    restarts = {worker: history_restart(periods, now) for worker, periods in bans.items()}
    return {worker: at for worker, at in restarts.items() if at is not None}


# --- AUTOMATION ------------------------------------------------------------------------------


def _filled(response: Mapping[str, Any] | None) -> set[str]:
    return {name for name, value in (response or {}).items() if value and str(value).strip()}


def _response_seconds(submission: Submission) -> int | None:
    submitted = submission.first_submitted_at or submission.submitted_at
    if submitted is None:
        return None
    return max(0, int((submitted - submission.created_at).total_seconds()))


async def submission_metrics(
    refs: Iterable[MetricRef], submissions: Sequence[Submission], tasks: Mapping[int, Task]
) -> dict[int, dict[MetricRef, Loaded]]:
    """The per-submission AUTOMATION metrics of each submission, by submission id."""
    wanted = tuple(dict.fromkeys(refs))
    metrics = {ref.metric for ref in wanted}
    skills: dict[tuple[int, int], int] = {}
    skill_ids = [ref.parameter for ref in wanted if ref.metric is M.WORKER_SKILL]
    if skill_ids and submissions:
        rows = await WorkerSkill.filter(
            worker_id__in=list({s.worker_id for s in submissions}), skill_id__in=skill_ids
        ).values_list("worker_id", "skill_id", "value")
        skills = {(worker, skill): value for worker, skill, value in rows}
    duplicates: dict[tuple[int, str], int] = {}
    prints = {s.proof_fingerprint for s in submissions if s.proof_fingerprint}
    if M.DUPLICATE_PROOF_COUNT in metrics and prints:
        rows = (
            await Submission.filter(
                task_id__in=list({s.task_id for s in submissions}),
                proof_fingerprint__in=list(prints),
            )
            .group_by("task_id", "proof_fingerprint")
            .annotate(n=Count("id"))
            .values_list("task_id", "proof_fingerprint", "n")
        )
        duplicates = {(task, fingerprint): int(n) for task, fingerprint, n in rows}
    found: dict[int, dict[MetricRef, Loaded]] = {}
    for submission in submissions:
        filled = _filled(submission.response)
        required = [p["name"] for p in tasks[submission.task_id].proof_requirements]
        values: dict[MetricRef, Loaded] = {}
        for ref in wanted:
            match ref.metric:
                case M.WORKER_SKILL:
                    assert ref.parameter is not None
                    values[ref] = skills.get((submission.worker_id, ref.parameter))
                case M.RESPONSE_SECONDS:
                    values[ref] = _response_seconds(submission)
                case M.PROOF_ITEMS_COUNT:
                    values[ref] = len(filled)
                case M.MISSING_PROOF_COUNT:
                    values[ref] = sum(1 for name in required if name not in filled)
                case M.DUPLICATE_PROOF_COUNT:
                    same = duplicates.get(
                        (submission.task_id, submission.proof_fingerprint or ""), 0
                    )
                    # The others: the submission itself carries its fingerprint too.
                    values[ref] = max(0, same - 1)
                case _:
                    raise ValueError(f"{ref.key} is not a submission metric")
        found[submission.id] = values
    return found


def task_metrics(refs: Iterable[MetricRef], task: Task) -> dict[MetricRef, Loaded]:
    """The budget AUTOMATION metrics of a task, from its figure columns."""
    values: dict[MetricRef, Loaded] = {}
    for ref in refs:
        match ref.metric:
            case M.REMAINING_BUDGET:
                values[ref] = task.remaining_minor
            case M.REMAINING_REWARDS:
                values[ref] = task.remaining_minor // task.reward_minor
            case M.TOPPED_UP_TOTAL:
                values[ref] = task.topped_up_minor
            case _:
                raise ValueError(f"{ref.key} is not a budget metric")
    return values
