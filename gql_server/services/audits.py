"""Audits of completed work, under leases that keep auditors apart across processes.

Completed work is an approved (or partly paid) submission; it completes when it is
approved (`reviewed_at`). An auditor opens a submission by taking its lock: a conditional
update of the submission's one lock row (free, released or expired -> held), so the
database decides between any number of auditors in any number of processes. Each taking
increments the fencing token; renewing, releasing and submitting name the token, and
anything sent under a lease that has since lapsed is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import F, Q, RawSQL, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from gql_server import clock
from gql_server.models import Audit, AuditLock, Submission, Task
from gql_server.models.enums import AuditOutcome, LockChange
from gql_server.models.vocabulary import COMPLETED_STATES, lock_held, percent
from gql_server.rules.statistics import Interval, wilson_interval
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, not_found
from gql_server.services.events import AuditLockChanged, SubmissionAudited, UnitOfWork, unit_of_work
from gql_server.services.global_ids import pk_field
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.review import get_submission
from gql_server.services.submissions import validate_response

# Weeks of the audit reports run Monday 00:00 to Sunday 23:59 in this zone.
REPORT_ZONE = ZoneInfo("America/Los_Angeles")
DEFAULT_LEASE = timedelta(minutes=10)
MIN_LEASE = timedelta(minutes=1)
MAX_LEASE = timedelta(hours=1)
MAX_SAMPLE = 100
MAX_COMMENT = 5000
# Percentages in the reports are rounded to this many decimals.
REPORT_DECIMALS = 2


class AuditStatusFilter(StrEnum):
    NEVER_AUDITED = "NEVER_AUDITED"
    AUDITED = "AUDITED"
    ACCEPTED = "ACCEPTED"
    FIXED = "FIXED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class AuditFilter:
    """Which completed submissions: every field narrows; `week_of` is any day of the week.

    The one declaration of the filter: the GraphQL input and the CSV export's query
    parameters are these fields under the APIs' names, the ids as global ids.
    """

    task_id: int | None = pk_field("Task")
    batch_id: int | None = pk_field("Batch")
    completed_from: datetime | None = None
    # Exclusive.
    completed_to: datetime | None = None
    week_of: date | None = None
    audit_status: AuditStatusFilter | None = None
    # Only for the audit counts: audits by this auditor.
    auditor_id: int | None = pk_field("Member")


# --- weeks ---------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of the week that contains `day`."""
    return day - timedelta(days=day.weekday())


def week_bounds(day: date) -> tuple[datetime, datetime]:
    """The week of `day` as [start, end) instants: Monday 00:00 to the next Monday 00:00 in
    Los Angeles, so a week across a daylight-saving change is 167 or 169 hours long."""
    monday = week_start(day)
    start = datetime.combine(monday, time(0), tzinfo=REPORT_ZONE)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=REPORT_ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


def recent_weeks(now: datetime, count: int = 4) -> list[date]:
    """The Mondays of the last `count` complete weeks before `now`'s week, latest first."""
    this_week = week_start(now.astimezone(REPORT_ZONE).date())
    return [this_week - timedelta(weeks=n) for n in range(1, count + 1)]


# --- choosing completed work -----------------------------------------------------------


def completed_submissions(account_id: int, given: AuditFilter) -> QuerySet[Submission]:
    query = Submission.filter(account_id=account_id, state__in=COMPLETED_STATES)
    if given.task_id is not None:
        query = query.filter(task_id=given.task_id)
    if given.batch_id is not None:
        query = query.filter(task__batch_id=given.batch_id)
    if given.completed_from is not None:
        query = query.filter(reviewed_at__gte=given.completed_from)
    if given.completed_to is not None:
        query = query.filter(reviewed_at__lt=given.completed_to)
    if given.week_of is not None:
        start, end = week_bounds(given.week_of)
        query = query.filter(reviewed_at__gte=start, reviewed_at__lt=end)
    match given.audit_status:
        case AuditStatusFilter.NEVER_AUDITED:
            query = query.filter(audit_count=0)
        case AuditStatusFilter.AUDITED:
            query = query.filter(audit_count__gt=0)
        case AuditStatusFilter.ACCEPTED | AuditStatusFilter.FIXED | AuditStatusFilter.REJECTED:
            query = query.filter(audit_status=AuditOutcome(given.audit_status.value))
    return query


async def list_completed(
    account_id: int, given: AuditFilter, request: PageRequest
) -> Page[Submission]:
    """Completed submissions, latest completed first: the per-submission audit report."""
    return await paginate(
        completed_submissions(account_id, given), SortKey("reviewed_at", True), request
    )


# --- locks -----------------------------------------------------------------------------


def lease_of(seconds: int | None) -> timedelta:
    if seconds is None:
        return DEFAULT_LEASE
    lease = timedelta(seconds=seconds)
    if not MIN_LEASE <= lease <= MAX_LEASE:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'leaseSeconds' must be within {int(MIN_LEASE.total_seconds())}.."
            f"{int(MAX_LEASE.total_seconds())}.",
            "lease_seconds",
        )
    return lease


async def _lock_event(work: UnitOfWork, lock: AuditLock, change: LockChange) -> None:
    task = await Task.get(id=lock.task_id)
    held = change in (LockChange.TAKEN, LockChange.RENEWED)
    await work.raise_event(
        AuditLockChanged(
            task_id=lock.task_id,
            batch_id=task.batch_id,
            submission_id=lock.submission_id,
            change=change,
            holder_id=lock.holder_id if held else None,
            fencing_token=lock.fencing_token,
            expires_at=lock.expires_at,
        )
    )


async def _take(submission: Submission, member_id: int, lease: timedelta) -> AuditLock | None:
    """Take the submission's lock if nobody holds it; None if somebody does."""
    now = clock.now()
    async with unit_of_work() as work:
        # The row exists once per submission; creating it races harmlessly.
        await AuditLock.bulk_create(
            [
                AuditLock(
                    submission_id=submission.id,
                    account_id=submission.account_id,
                    task_id=submission.task_id,
                    created_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        free = Q(holder_id__isnull=True) | Q(released_at__isnull=False) | Q(expires_at__lte=now)
        if not await AuditLock.filter(Q(submission_id=submission.id) & free).update(
            holder_id=member_id,
            fencing_token=F("fencing_token") + 1,
            acquired_at=now,
            expires_at=now + lease,
            released_at=None,
        ):
            return None
        lock = await AuditLock.get(submission_id=submission.id)
        await _lock_event(work, lock, LockChange.TAKEN)
    return lock


async def _completed_submission(account_id: int, submission_id: int | None) -> Submission:
    submission = await get_submission(account_id, submission_id)
    if submission.state not in COMPLETED_STATES:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            f"Only completed (approved) work is audited; this submission is {submission.state}.",
            "submission_id",
        )
    return submission


async def start_audit(
    principal: MemberPrincipal, submission_id: int | None, lease_seconds: int | None = None
) -> AuditLock:
    """Open one submission for audit. Opening one you already hold renews it."""
    lease = lease_of(lease_seconds)
    submission = await _completed_submission(principal.account_id, submission_id)
    lock = await _take(submission, principal.member_id, lease)
    if lock is not None:
        return lock
    current = await AuditLock.get(submission_id=submission.id)
    if current.holder_id == principal.member_id:
        return await renew_lock(principal, submission.id, current.fencing_token, lease_seconds)
    raise UseCaseError.single(
        ErrorCode.LOCKED,
        "Another auditor has this submission open"
        + (f" until {current.expires_at.isoformat()}." if current.expires_at else "."),
        "submission_id",
    )


async def start_audit_sample(
    principal: MemberPrincipal, given: AuditFilter, count: int, lease_seconds: int | None = None
) -> list[AuditLock]:
    """Open a random sample (without replacement) of up to `count` completed submissions
    that nobody has open, each under its own lock. Fewer come back when fewer are free."""
    if not 1 <= count <= MAX_SAMPLE:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'count' must be within 1..{MAX_SAMPLE}.", "count"
        )
    lease = lease_of(lease_seconds)
    taken: list[AuditLock] = []
    tried: set[int] = set()
    # Another auditor may win some candidates between choosing and locking: choose again.
    for _ in range(3):
        open_now = AuditLock.filter(lock_held(clock.now()), account_id=principal.account_id).values(
            "submission_id"
        )
        choices = completed_submissions(principal.account_id, given).filter(
            ~Q(id__in=Subquery(open_now))
        )
        if tried:
            choices = choices.exclude(id__in=tried)
        candidates = (
            await choices.annotate(draw=RawSQL("RANDOM()"))
            .order_by("draw")
            .limit((count - len(taken)) * 2)
        )
        if not candidates:
            break
        for submission in candidates:
            tried.add(submission.id)
            lock = await _take(submission, principal.member_id, lease)
            if lock is not None:
                taken.append(lock)
                if len(taken) == count:
                    return taken
    return taken


async def _lost(principal: MemberPrincipal, submission_id: int) -> UseCaseError:
    """Why the caller holds no lock of the submission: another account's submission is
    NOT_FOUND, exactly like one that does not exist; else the lock is no longer theirs."""
    if not await Submission.filter(id=submission_id, account_id=principal.account_id).exists():
        return not_found("Submission", "submission_id")
    return UseCaseError.single(
        ErrorCode.STALE_LOCK,
        "This audit lock is no longer yours (it was released, or it expired and may have "
        "been taken by someone else); open the submission again.",
        "fencing_token",
    )


def _mine(principal: MemberPrincipal, submission_id: int, token: int, now: datetime) -> Q:
    """The caller's lock of the submission under this token, held right now."""
    return lock_held(now) & Q(
        submission_id=submission_id,
        account_id=principal.account_id,
        holder_id=principal.member_id,
        fencing_token=token,
    )


async def renew_lock(
    principal: MemberPrincipal,
    submission_id: int | None,
    fencing_token: int,
    lease_seconds: int | None = None,
) -> AuditLock:
    lease = lease_of(lease_seconds)
    if submission_id is None:
        raise not_found("Submission", "submission_id")
    now = clock.now()
    async with unit_of_work() as work:
        if not await AuditLock.filter(_mine(principal, submission_id, fencing_token, now)).update(
            expires_at=now + lease
        ):
            raise await _lost(principal, submission_id)
        lock = await AuditLock.get(submission_id=submission_id)
        await _lock_event(work, lock, LockChange.RENEWED)
    return lock


async def release_lock(
    principal: MemberPrincipal, submission_id: int | None, fencing_token: int
) -> AuditLock:
    if submission_id is None:
        raise not_found("Submission", "submission_id")
    now = clock.now()
    async with unit_of_work() as work:
        if not await AuditLock.filter(_mine(principal, submission_id, fencing_token, now)).update(
            released_at=now
        ):
            raise await _lost(principal, submission_id)
        lock = await AuditLock.get(submission_id=submission_id)
        await _lock_event(work, lock, LockChange.RELEASED)
    return lock


async def expire_locks(limit: int = 500) -> int:
    """Mark leases that ran out as expired and say so on the live streams.

    The longest lapsed first, so nothing due waits behind a full page forever.
    """
    now = clock.now()
    due = (
        await AuditLock.filter(
            holder_id__isnull=False, released_at__isnull=True, expires_at__lte=now
        )
        .order_by("expires_at", "id")
        .limit(limit)
    )
    expired = 0
    for lock in due:
        async with unit_of_work() as work:
            if await AuditLock.filter(
                id=lock.id,
                fencing_token=lock.fencing_token,
                released_at__isnull=True,
                expires_at__lte=now,
            ).update(released_at=lock.expires_at):
                await _lock_event(work, lock, LockChange.EXPIRED)
                expired += 1
    return expired


# --- audits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditDecision:
    outcome: AuditOutcome
    comments: str = ""
    corrected_response: dict[str, str] | None = None


def check_decision(decision: AuditDecision, requirements: list[dict[str, Any]]) -> list[FieldError]:
    """What is wrong with an audit decision before anything is written."""
    errors: list[FieldError] = []
    comments = decision.comments.strip()
    if len(comments) > MAX_COMMENT:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'comments' is longer than {MAX_COMMENT} characters.",
                ("comments",),
            )
        )
    if decision.outcome == AuditOutcome.REJECTED and not comments:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "A rejection needs comments that say what to do better.",
                ("comments",),
            )
        )
    if decision.outcome == AuditOutcome.FIXED:
        if decision.corrected_response is None:
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION,
                    "A fix needs the corrected response.",
                    ("corrected_response",),
                )
            )
        else:
            errors.extend(
                FieldError(e.code, e.message, ("corrected_response", *e.field[1:]))
                for e in validate_response(requirements, decision.corrected_response)
            )
    elif decision.corrected_response is not None:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "Only a FIXED audit carries a corrected response.",
                ("corrected_response",),
            )
        )
    return errors


async def submit_audit(
    principal: MemberPrincipal,
    submission_id: int | None,
    fencing_token: int,
    decision: AuditDecision,
) -> Audit:
    """Record an audit under the caller's lock and release it; the callback follows."""
    submission = await _completed_submission(principal.account_id, submission_id)
    task = await Task.get(id=submission.task_id)
    errors = check_decision(decision, task.proof_requirements)
    if errors:
        raise UseCaseError(errors)
    comments = decision.comments.strip()
    now = clock.now()
    async with unit_of_work() as work:
        if not await AuditLock.filter(_mine(principal, submission.id, fencing_token, now)).update(
            released_at=now
        ):
            raise await _lost(principal, submission_id)
        # Under the lock nobody else audits it; re-read for the latest audit trail.
        current = await Submission.get(id=submission.id)
        changes: dict[str, Any] = {
            "audit_status": decision.outcome,
            "audit_count": F("audit_count") + 1,
            "last_audited_at": now,
            "audit_comments": current.audit_comments + ([comments] if comments else []),
            "updated_at": now,
            "version": F("version") + 1,
        }
        corrected = None
        if decision.outcome == AuditOutcome.FIXED and decision.corrected_response is not None:
            corrected = {k: v.strip() for k, v in decision.corrected_response.items()}
            changes["response"] = corrected
            changes["prior_responses"] = current.prior_responses + (
                [current.response] if current.response is not None else []
            )
        await Submission.filter(id=current.id).update(**changes)
        audit = await Audit.create(
            submission_id=current.id,
            account_id=current.account_id,
            auditor_id=principal.member_id,
            outcome=decision.outcome,
            comments=comments,
            corrected_response=corrected,
            fencing_token=fencing_token,
            created_at=now,
        )
        await work.raise_event(
            SubmissionAudited(current.account_id, current.task_id, current.id, current.worker_id)
        )
        lock = await AuditLock.get(submission_id=current.id)
        await _lock_event(work, lock, LockChange.RELEASED)
    return audit


async def audits_of(submission_ids: list[int]) -> dict[int, list[Audit]]:
    """Every audit of each submission, oldest first (for a DataLoader)."""
    found: dict[int, list[Audit]] = {pk: [] for pk in submission_ids}
    for audit in await Audit.filter(submission_id__in=submission_ids).order_by("created_at", "id"):
        found[audit.submission_id].append(audit)
    return found


async def held_locks(submission_ids: list[int]) -> dict[int, AuditLock | None]:
    """The lock each submission is held under right now, if any (for a DataLoader)."""
    found: dict[int, AuditLock | None] = dict.fromkeys(submission_ids)
    for lock in await AuditLock.filter(lock_held(clock.now()), submission_id__in=submission_ids):
        found[lock.submission_id] = lock
    return found


# --- reports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeCounts:
    audits: int = 0
    accepted: int = 0
    fixed: int = 0
    rejected: int = 0

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> OutcomeCounts:
        by = {AuditOutcome(r["outcome"]): int(r["n"]) for r in rows}
        return cls(
            audits=sum(by.values()),
            accepted=by.get(AuditOutcome.ACCEPTED, 0),
            fixed=by.get(AuditOutcome.FIXED, 0),
            rejected=by.get(AuditOutcome.REJECTED, 0),
        )


@dataclass(frozen=True)
class AuditSummary:
    completed: int
    audited: int
    # Audited submissions that any audit found wrong (fixed or rejected).
    defective: int
    counts: OutcomeCounts

    @property
    def defect_rate(self) -> float | None:
        """Percent of the audited submissions found defective, as reported (2 decimals);
        None when none was audited."""
        rate = percent(self.defective, self.audited)
        return None if rate is None else round(rate, REPORT_DECIMALS)

    @property
    def defect_rate_interval(self) -> Interval | None:
        """`defect_interval` as reported: in percent, 2 decimals."""
        interval = self.defect_interval
        if interval is None:
            return None
        return Interval(
            low=round(interval.low * 100, REPORT_DECIMALS),
            high=round(interval.high * 100, REPORT_DECIMALS),
        )

    @property
    def defect_interval(self) -> Interval | None:
        """What the audited sample says about the defect rate of all the completed work:
        a 95% Wilson interval, narrowed by the share of the work that was audited. It
        holds for random samples; hand-picked audits say less."""
        return wilson_interval(self.defective, self.audited, population=self.completed)


def _audits_of_filtered(account_id: int, given: AuditFilter) -> QuerySet[Audit]:
    # Only audited work has audits (each audit counts itself in `audit_count`); saying so
    # lets the index of audited work answer instead of a scan of all the completed work.
    audited = completed_submissions(account_id, given).filter(audit_count__gt=0)
    query = Audit.filter(account_id=account_id, submission_id__in=Subquery(audited.values("id")))
    if given.auditor_id is not None:
        query = query.filter(auditor_id=given.auditor_id)
    return query


async def _outcome_rows(query: QuerySet[Audit], *group: str) -> list[dict[str, Any]]:
    return list(
        await query.annotate(n=Count("id"))
        .group_by(*group, "outcome")
        .values(*group, "outcome", "n")
    )


async def audit_summary(account_id: int, given: AuditFilter) -> AuditSummary:
    """Totals for a filter, computed in the database."""
    completed = completed_submissions(account_id, given)
    defective_ids = Audit.filter(
        account_id=account_id, outcome__in=[AuditOutcome.FIXED, AuditOutcome.REJECTED]
    ).values("submission_id")
    return AuditSummary(
        completed=await completed.count(),
        audited=await completed.filter(audit_count__gt=0).count(),
        defective=await completed.filter(audit_count__gt=0, id__in=Subquery(defective_ids)).count(),
        counts=OutcomeCounts.of(await _outcome_rows(_audits_of_filtered(account_id, given))),
    )


@dataclass(frozen=True)
class WeekCounts:
    week_start: date
    starts_at: datetime
    ends_at: datetime
    completed: int
    audited: int


async def weekly_counts(account_id: int, given: AuditFilter, count: int = 4) -> list[WeekCounts]:
    """Submissions completed in each of the last `count` weeks, and how many were audited."""
    weeks = []
    for monday in recent_weeks(clock.now(), count):
        start, end = week_bounds(monday)
        completed = completed_submissions(account_id, given).filter(
            reviewed_at__gte=start, reviewed_at__lt=end
        )
        weeks.append(
            WeekCounts(
                week_start=monday,
                starts_at=start,
                ends_at=end,
                completed=await completed.count(),
                audited=await completed.filter(audit_count__gt=0).count(),
            )
        )
    return weeks


@dataclass(frozen=True)
class BatchCounts:
    batch_id: int
    completed: int
    audited: int
    counts: OutcomeCounts


async def batch_counts(account_id: int, given: AuditFilter) -> list[BatchCounts]:
    """The auditor tracker: per batch, completed and audited work and audit outcomes."""
    completed = completed_submissions(account_id, given).filter(task__batch_id__isnull=False)
    totals = {
        r["task__batch_id"]: int(r["n"])
        for r in await completed.annotate(n=Count("id"))
        .group_by("task__batch_id")
        .values("task__batch_id", "n")
    }
    audited = {
        r["task__batch_id"]: int(r["n"])
        for r in await completed.filter(audit_count__gt=0)
        .annotate(n=Count("id"))
        .group_by("task__batch_id")
        .values("task__batch_id", "n")
    }
    outcomes: dict[int, list[dict[str, Any]]] = {}
    for row in await _outcome_rows(
        _audits_of_filtered(account_id, given), "submission__task__batch_id"
    ):
        outcomes.setdefault(row["submission__task__batch_id"], []).append(row)
    return [
        BatchCounts(
            batch_id=batch_id,
            completed=totals[batch_id],
            audited=audited.get(batch_id, 0),
            counts=OutcomeCounts.of(outcomes.get(batch_id, [])),
        )
        for batch_id in sorted(totals)
    ]


@dataclass(frozen=True)
class AuditorCounts:
    auditor_id: int
    submissions: int
    counts: OutcomeCounts


async def auditor_counts(account_id: int, given: AuditFilter) -> list[AuditorCounts]:
    """Auditor quality: per auditor, how many submissions and audits, and their outcomes."""
    audits = _audits_of_filtered(account_id, given).filter(auditor_id__isnull=False)
    distinct = {
        r["auditor_id"]: int(r["n"])
        for r in await audits.annotate(n=Count("submission_id", distinct=True))
        .group_by("auditor_id")
        .values("auditor_id", "n")
    }
    outcomes: dict[int, list[dict[str, Any]]] = {}
    for row in await _outcome_rows(audits, "auditor_id"):
        outcomes.setdefault(row["auditor_id"], []).append(row)
    return [
        AuditorCounts(
            auditor_id=auditor_id,
            submissions=distinct[auditor_id],
            counts=OutcomeCounts.of(outcomes[auditor_id]),
        )
        for auditor_id in sorted(distinct)
    ]
