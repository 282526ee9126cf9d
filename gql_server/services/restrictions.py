"""Restrictions: bans and suspensions of workers, imposed by rules or by hand, and lifted.

A restriction is active from `starts_at` until `ends_at` (None: for good) unless lifted.
While active a ban or suspension hides the tasks in its scope (a task, a project, or the
whole account) from the worker and refuses their starts and submissions with RESTRICTED and
no reason: the reason is for the requester only. Submissions made before it stay valid and
payable. A mute (always account-wide) refuses only the worker's messages to the account
(questions and replies in threads); it neither covers nor is covered by a ban.

`impose` is called inside the caller's transaction (the rules engine, or `restrict_worker`
here) and neither opens a transaction nor publishes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Project, Restriction, Submission, Task, Worker
from gql_server.models.enums import (
    ActorKind,
    AdminAction,
    RestrictionKind,
    RestrictionScope,
    SubmissionState,
)
from gql_server.models.vocabulary import WORK_RESTRICTION_KINDS
from gql_server.services import activity, slots
from gql_server.services.eligibility import active_restrictions_query
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, not_found
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

S = SubmissionState
REASON_MAX = 5_000
MAX_DAYS = 36_500

# Submissions whose slot a ban with recompletion gives back at once. Started work and
# revisions are left to expire (the restricted worker cannot send them), which frees their
# slot then.
_REOPENED_STATES = (S.SUBMITTED, S.APPROVED, S.REJECTED, S.DISPUTED, S.PARTIALLY_PAID)


@dataclass(frozen=True)
class Target:
    """What a restriction applies to: the scope and its task or project."""

    scope: RestrictionScope
    task_id: int | None
    project_id: int | None
    # The project of the task, for a TASK scope (a PROJECT restriction covers it).
    task_project_id: int | None = None


def _covers_target(existing: Restriction, target: Target) -> bool:
    if existing.scope == RestrictionScope.ACCOUNT:
        return True
    if existing.scope == RestrictionScope.PROJECT:
        if target.scope == RestrictionScope.PROJECT:
            return existing.project_id == target.project_id
        if target.scope == RestrictionScope.TASK:
            return existing.project_id == target.task_project_id
        return False
    return target.scope == RestrictionScope.TASK and existing.task_id == target.task_id


def _covers_time(existing: Restriction, ends_at: datetime | None, days: int | None) -> bool:
    """The existing one lasts as long: for good, or to the same end or later, or it was
    imposed for as many days or more (so a rule firing again a day into a 15-day ban does
    not push the end out, nor pile up restrictions)."""
    if existing.ends_at is None:
        return True
    if ends_at is None or days is None:
        return False
    return existing.ends_at >= ends_at or existing.ends_at - existing.starts_at >= timedelta(
        days=days
    )


def _family(kind: RestrictionKind) -> tuple[RestrictionKind, ...]:
    """The kinds whose active restrictions may already have the effect of one of `kind`."""
    return (RestrictionKind.MUTE,) if kind == RestrictionKind.MUTE else WORK_RESTRICTION_KINDS


def covers(
    existing: Restriction, target: Target, ends_at: datetime | None, days: int | None
) -> bool:
    """An active restriction already has the effect of a new one (any kind: both refuse)."""
    return _covers_target(existing, target) and _covers_time(existing, ends_at, days)


async def _target(
    account_id: int, scope: RestrictionScope, task_id: int | None, project_id: int | None
) -> Target:
    if scope == RestrictionScope.TASK:
        if task_id is None:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "A TASK restriction needs 'taskId'.", "task_id"
            )
        task = await owned(Task, account_id, task_id, "Task", "task_id")
        return Target(scope, task.id, None, task.project_id)
    if scope == RestrictionScope.PROJECT:
        if project_id is None:
            raise UseCaseError.single(
                ErrorCode.VALIDATION,
                "A PROJECT restriction needs 'projectId'.",
                "project_id",
            )
        project = await owned(Project, account_id, project_id, "Project", "project_id")
        return Target(scope, None, project.id)
    return Target(scope, None, None)


async def impose(
    *,
    account_id: int,
    worker_id: int,
    kind: RestrictionKind,
    scope: RestrictionScope,
    task_id: int | None,
    project_id: int | None,
    days: int | None,
    reason: str,
    actor_kind: ActorKind,
    member_id: int | None = None,
    rule_id: int | None = None,
) -> Restriction | None:
    """Restrict the worker from now for `days` (None: for good), unless already in effect.

    Returns None and writes nothing when an active restriction of the worker in the account
    already covers this one: the same or a wider scope (any kind), and lasting as long (for
    good; or ending at the same time or later; or imposed for as many days or more, so
    that a rule that keeps matching does not extend or pile up restrictions).

    A TASK scope needs `task_id`, a PROJECT scope `project_id`, both of the account
    (VALIDATION if missing, NOT_FOUND if not the account's). A ban re-opens, on the affected
    tasks with `reopen_banned_worker_slots`, the slots held by the worker's earlier
    submissions, which stay valid and payable (`reopen_banned_worker_slots`).
    Call inside a transaction: the worker's row is locked so that two concurrent calls
    cannot both create the same restriction.
    """
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'days' must be from 1 to {MAX_DAYS}.", "days"
        )
    target = await _target(account_id, scope, task_id, project_id)
    # Serialise restrictions of one worker (FOR NO KEY UPDATE does not block submissions).
    await Worker.filter(id=worker_id).select_for_update(no_key=True).first()
    now = clock.now()
    ends_at = None if days is None else now + timedelta(days=days)
    for existing in await active_restrictions_query(worker_id, account_id, _family(kind)):
        if covers(existing, target, ends_at, days):
            return None
    restriction = await Restriction.create(
        account_id=account_id,
        worker_id=worker_id,
        kind=kind,
        scope=scope,
        task_id=target.task_id,
        project_id=target.project_id,
        reason=reason,
        starts_at=now,
        ends_at=ends_at,
        actor_kind=actor_kind,
        created_by_id=member_id,
        rule_id=rule_id,
        created_at=now,
    )
    if kind == RestrictionKind.BAN:
        await reopen_banned_worker_slots(restriction)
    return restriction


def _tasks_in_scope(restriction: Restriction) -> Q:
    if restriction.scope == RestrictionScope.TASK:
        return Q(id=restriction.task_id)
    if restriction.scope == RestrictionScope.PROJECT:
        return Q(project_id=restriction.project_id, account_id=restriction.account_id)
    return Q(account_id=restriction.account_id)


async def reopen_banned_worker_slots(restriction: Restriction) -> list[int]:
    """Recompletion: free the slots of the banned worker's submissions on the tasks in the
    ban's scope that ask for it. Returns the ids of the submissions whose slot was freed."""
    tasks = await Task.filter(_tasks_in_scope(restriction)).filter(reopen_banned_worker_slots=True)
    if not tasks:
        return []
    held = await Submission.filter(
        worker_id=restriction.worker_id,
        task_id__in=[task.id for task in tasks],
        slot_released=False,
        state__in=_REOPENED_STATES,
    ).values_list("id", flat=True)
    return await slots.release_slots(sorted(held))


# --- by hand -----------------------------------------------------------------------------


def _validate_by_hand(
    kind: RestrictionKind, scope: RestrictionScope, days: int | None, reason: str
) -> list[FieldError]:
    errors = []
    if kind == RestrictionKind.SUSPENSION and scope != RestrictionScope.TASK:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "A suspension applies to one task.", ("scope",))
        )
    if kind == RestrictionKind.MUTE and scope != RestrictionScope.ACCOUNT:
        errors.append(
            FieldError(ErrorCode.VALIDATION, "A mute applies to the whole account.", ("scope",))
        )
    if kind == RestrictionKind.BAN and scope == RestrictionScope.TASK:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "A ban applies to a project or to the whole account; suspend in a task instead.",
                ("scope",),
            )
        )
    if days is not None and not 1 <= days <= MAX_DAYS:
        errors.append(
            FieldError(ErrorCode.VALIDATION, f"'days' must be from 1 to {MAX_DAYS}.", ("days",))
        )
    if len(reason) > REASON_MAX:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                f"'reason' is longer than {REASON_MAX} characters.",
                ("reason",),
            )
        )
    return errors


async def restrict_worker(
    principal: MemberPrincipal,
    *,
    worker_id: int | None,
    kind: RestrictionKind,
    scope: RestrictionScope,
    task_id: int | None,
    project_id: int | None,
    days: int | None,
    reason: str,
) -> tuple[Restriction, bool]:
    """Suspend a worker in a task, or ban them from a project or the account, by hand.

    Returns the restriction and whether it was created; when one already in effect covers
    it, that one is returned and nothing is written.
    """
    reason = reason.strip()
    errors = _validate_by_hand(kind, scope, days, reason)
    if errors:
        raise UseCaseError(errors)
    worker = await Worker.get_or_none(id=worker_id) if worker_id is not None else None
    if worker is None:
        raise not_found("Worker", "worker_id")
    async with in_transaction():
        restriction = await impose(
            account_id=principal.account_id,
            worker_id=worker.id,
            kind=kind,
            scope=scope,
            task_id=task_id if scope == RestrictionScope.TASK else None,
            project_id=project_id if scope == RestrictionScope.PROJECT else None,
            days=days,
            reason=reason,
            actor_kind=ActorKind.MEMBER,
            member_id=principal.member_id,
        )
        if restriction is not None:
            return restriction, True
        target = await _target(principal.account_id, scope, task_id, project_id)
        ends_at = None if days is None else clock.now() + timedelta(days=days)
        for existing in await active_restrictions_query(
            worker.id, principal.account_id, _family(kind)
        ):
            if covers(existing, target, ends_at, days):
                return existing, False
    raise AssertionError("impose found a covering restriction that is gone")


async def get_restriction(account_id: int, restriction_id: int | None) -> Restriction:
    return await owned(Restriction, account_id, restriction_id, "Restriction", "restriction_id")


def is_active(restriction: Restriction, now: datetime | None = None) -> bool:
    now = now or clock.now()
    return (
        restriction.lifted_at is None
        and restriction.starts_at <= now
        and (restriction.ends_at is None or restriction.ends_at > now)
    )


async def lift(principal: MemberPrincipal, restriction_id: int | None) -> Restriction:
    """End an active restriction now, by hand. INVALID_STATE if it has ended or was lifted."""
    restriction = await get_restriction(principal.account_id, restriction_id)
    now = clock.now()
    if not is_active(restriction, now):
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE, "The restriction has already ended or been lifted."
        )
    async with in_transaction():
        updated = await Restriction.filter(id=restriction.id, lifted_at__isnull=True).update(
            lifted_at=now, lifted_by_id=principal.member_id
        )
        if not updated:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, "The restriction has already ended or been lifted."
            )
        await activity.record(
            principal,
            AdminAction.RESTRICTION_LIFTED,
            "Restriction",
            restriction.id,
            worker_id=restriction.worker_id,
            kind=restriction.kind,
            reason=restriction.reason,
        )
    return await Restriction.get(id=restriction.id)


@dataclass(frozen=True)
class RestrictionFilter:
    worker_id: int | None = None
    task_id: int | None = None
    project_id: int | None = None
    active_only: bool = False


async def list_restrictions(
    account_id: int, filter: RestrictionFilter | None, page: PageRequest
) -> Page[Restriction]:
    """The account's restrictions, newest first.

    Filtering on a task lists the restrictions that apply to it: its own, its project's and
    the account-wide ones; on a project, those of the project and of its tasks, and the
    account-wide ones.
    """
    filter = filter or RestrictionFilter()
    query = Restriction.filter(account_id=account_id)
    if filter.worker_id is not None:
        query = query.filter(worker_id=filter.worker_id)
    if filter.task_id is not None:
        task = await Task.get_or_none(id=filter.task_id, account_id=account_id)
        if task is None:
            query = query.filter(id=-1)
        else:
            query = query.filter(
                Q(task_id=task.id)
                | Q(project_id=task.project_id, scope=RestrictionScope.PROJECT)
                | Q(scope=RestrictionScope.ACCOUNT)
            )
    if filter.project_id is not None:
        query = query.filter(
            Q(project_id=filter.project_id)
            | Q(task__project_id=filter.project_id)
            | Q(scope=RestrictionScope.ACCOUNT)
        )
    if filter.active_only:
        now = clock.now()
        query = query.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            lifted_at__isnull=True,
            starts_at__lte=now,
        )
    return await paginate(query, SortKey("created_at", True), page)
