"""A task's life: publish, pause, resume, close (by hand or automatically), budget changes.

Automatic closure is checked in the transaction of every change that can make its
condition true, so a task closes the moment it should, not at the next request; the
background sweep covers what only time changes (expiry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import F

from gql_server import clock
from gql_server.models import Task
from gql_server.models.enums import (
    ActorKind,
    CloseReason,
    FiguresChange,
    LedgerReason,
    SubmissionState,
    TaskChange,
    TaskStatus,
)
from gql_server.models.vocabulary import LIVE_TASK_STATUSES
from gql_server.services import ledger
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.events import (
    BonusPaid,
    DomainEvent,
    Handler,
    SubmissionAudited,
    SubmissionsExpired,
    SubmissionsReviewed,
    SubmissionSubmitted,
    TaskFiguresChanged,
    TaskStatusChanged,
    UnitOfWork,
    unit_of_work,
)
from gql_server.services.idempotency import IdempotencyKey, Recorder, once
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tasks import get_task

S = SubmissionState


def closure_reason(task: Task, now: datetime) -> CloseReason | None:
    """Why a live task must close now, or None. Pure: reads only the task's columns."""
    if task.expires_at is not None and task.expires_at <= now:
        return CloseReason.EXPIRED
    if task.max_submissions is not None and task.approved_count >= task.max_submissions:
        return CloseReason.MAX_SUBMISSIONS
    if task.remaining_minor < task.reward_minor and task.committed_minor == 0:
        return CloseReason.BUDGET_EXHAUSTED
    return None


def _member(principal: MemberPrincipal) -> ledger.Actor:
    return ledger.Actor(ActorKind.MEMBER, principal.member_id)


async def close_in_transaction(
    work: UnitOfWork, task_id: int, reason: CloseReason, actor: ledger.Actor
) -> bool:
    """Close a live task and return its remaining budget to the account; False if not live."""
    now = clock.now()
    closed = await Task.filter(id=task_id, status__in=LIVE_TASK_STATUSES).update(
        status=TaskStatus.CLOSED,
        close_reason=reason,
        closed_at=now,
        updated_at=now,
        version=F("version") + 1,
    )
    if not closed:
        return False
    task = await Task.get(id=task_id)
    if task.remaining_minor:
        await ledger.move(
            reason=LedgerReason.RETURN,
            amount_minor=task.remaining_minor,
            account_id=task.account_id,
            task_id=task.id,
            actor=actor,
        )
    await work.raise_event(
        TaskStatusChanged(task.account_id, task.id, TaskChange.CLOSED, close_reason=reason)
    )
    return True


# The events after which (with all that followed them) a closure condition may have become
# true: money was paid, released or given back, or more was approved. A submission is one:
# automatic acceptance or a rule may approve it at once.
_CLOSURE_CHECKED_AFTER = (
    SubmissionSubmitted,
    SubmissionsReviewed,
    SubmissionsExpired,
    BonusPaid,
    TaskFiguresChanged,
    SubmissionAudited,
)


class AutomaticClosure(Handler):
    """Closes a task the moment a closure condition holds, in the transaction that made it
    hold: once the event the use case raised, and everything that followed it (the rules'
    actions, automatic acceptance), has been handled. So every bonus the rules pay comes
    from the task's remaining budget, and a top-up they make may keep the task open."""

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        if work.depth > 1 or not isinstance(event, _CLOSURE_CHECKED_AFTER):
            return
        if isinstance(event, SubmissionsReviewed) and event.state is S.REVISION_REQUESTED:
            return
        task = await Task.get(id=event.task_id)
        if task.status not in LIVE_TASK_STATUSES:
            return
        reason = closure_reason(task, clock.now())
        if reason is not None:
            await close_in_transaction(work, task.id, reason, ledger.SYSTEM)


async def _replay_task(stored: dict[str, Any]) -> Task:
    return await Task.get(id=stored["task_id"])


async def publish_task(
    principal: MemberPrincipal, task_id: int | None, idempotency_key: str | None = None
) -> Task:
    """DRAFT -> OPEN: allocate the requested budget from the account balance."""
    idem = IdempotencyKey.of(principal, idempotency_key, "publish_task", {"task_id": task_id})

    async def body(recorder: Recorder) -> Task:
        task = await get_task(principal.account_id, task_id)
        if task.status != TaskStatus.DRAFT:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE,
                f"Only a DRAFT task can be published; this one is {task.status}.",
            )
        if task.expires_at is not None and task.expires_at <= clock.now():
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "The task's expiry time has passed.", "task_id"
            )
        async with unit_of_work() as work:
            await recorder.claim()
            now = clock.now()
            if not await Task.filter(id=task.id, status=TaskStatus.DRAFT).update(
                status=TaskStatus.OPEN, published_at=now, updated_at=now, version=F("version") + 1
            ):
                raise UseCaseError.single(
                    ErrorCode.INVALID_STATE, "The task was published meanwhile."
                )
            await ledger.move(
                reason=LedgerReason.ALLOCATE,
                amount_minor=task.requested_budget_minor,
                account_id=principal.account_id,
                task_id=task.id,
                actor=_member(principal),
                idempotency_key=recorder.key,
            )
            await work.raise_event(TaskStatusChanged(task.account_id, task.id, TaskChange.OPENED))
            task = await Task.get(id=task.id)
            await recorder.complete({"task_id": task.id})
        return task

    return await once(idem, body, _replay_task)


async def _switch(
    principal: MemberPrincipal, task_id: int | None, source: TaskStatus, target: TaskStatus
) -> Task:
    task = await get_task(principal.account_id, task_id)
    if task.status != source:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            f"Only a {source} task can become {target}; this one is {task.status}.",
        )
    async with unit_of_work() as work:
        now = clock.now()
        if not await Task.filter(id=task.id, status=source).update(
            status=target, updated_at=now, version=F("version") + 1
        ):
            raise UseCaseError.single(ErrorCode.INVALID_STATE, "The task changed meanwhile.")
        change = TaskChange.PAUSED if target == TaskStatus.PAUSED else TaskChange.RESUMED
        await work.raise_event(TaskStatusChanged(task.account_id, task.id, change))
    return await Task.get(id=task.id)


async def pause_task(principal: MemberPrincipal, task_id: int | None) -> Task:
    return await _switch(principal, task_id, TaskStatus.OPEN, TaskStatus.PAUSED)


async def resume_task(principal: MemberPrincipal, task_id: int | None) -> Task:
    return await _switch(principal, task_id, TaskStatus.PAUSED, TaskStatus.OPEN)


async def close_task(
    principal: MemberPrincipal, task_id: int | None, idempotency_key: str | None = None
) -> Task:
    """Close by hand; the remaining budget returns to the account, pending reviews go on."""
    idem = IdempotencyKey.of(principal, idempotency_key, "close_task", {"task_id": task_id})

    async def body(recorder: Recorder) -> Task:
        task = await get_task(principal.account_id, task_id)
        if task.status not in LIVE_TASK_STATUSES:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE,
                f"Only an open or paused task can be closed; it is {task.status}.",
            )
        async with unit_of_work() as work:
            await recorder.claim()
            if not await close_in_transaction(
                work, task.id, CloseReason.MANUAL, _member(principal)
            ):
                raise UseCaseError.single(ErrorCode.INVALID_STATE, "The task closed meanwhile.")
            await recorder.complete({"task_id": task.id})
        return await Task.get(id=task.id)

    return await once(idem, body, _replay_task)


async def change_budget(
    principal: MemberPrincipal,
    task_id: int | None,
    new_budget_minor: int,
    idempotency_key: str | None = None,
) -> Task:
    """Raise (from the account balance) or lower (back to it) a task's budget.

    A draft's requested budget just changes. A live task's budget can go down only by what
    is neither committed nor spent; if what is left cannot fund a reward, the task closes.
    """
    idem = IdempotencyKey.of(
        principal,
        idempotency_key,
        "change_budget",
        {"task_id": task_id, "budget_minor": new_budget_minor},
    )
    if new_budget_minor < 0:
        raise UseCaseError.single(ErrorCode.VALIDATION, "'budget' cannot be negative.", "budget")

    async def body(recorder: Recorder) -> Task:
        task = await get_task(principal.account_id, task_id)
        if task.status == TaskStatus.CLOSED:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, "A closed task's budget cannot change."
            )
        if task.status == TaskStatus.DRAFT and new_budget_minor < task.reward_minor:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "'budget' must fund at least one reward.", "budget"
            )
        async with unit_of_work() as work:
            await recorder.claim()
            if task.status != TaskStatus.DRAFT:
                await _move_budget(principal, task.id, new_budget_minor, recorder.key)
            await Task.filter(id=task.id).update(
                requested_budget_minor=new_budget_minor, updated_at=clock.now()
            )
            if task.status != TaskStatus.DRAFT:
                await work.raise_event(
                    TaskFiguresChanged(task.account_id, task.id, FiguresChange.BUDGET_CHANGED)
                )
            await recorder.complete({"task_id": task.id})
        return await Task.get(id=task.id)

    return await once(idem, body, _replay_task)


async def _move_budget(
    principal: MemberPrincipal, task_id: int, new_budget_minor: int, key: str | None
) -> None:
    current = await Task.get(id=task_id)
    if new_budget_minor < current.committed_minor + current.spent_minor:
        raise UseCaseError.single(
            ErrorCode.INSUFFICIENT_FUNDS,
            "The budget cannot go below what is already committed and spent.",
            "budget",
        )
    delta = new_budget_minor - current.budget_minor
    if delta:
        await ledger.move(
            reason=LedgerReason.ALLOCATE if delta > 0 else LedgerReason.RETURN,
            amount_minor=abs(delta),
            account_id=principal.account_id,
            task_id=task_id,
            actor=_member(principal),
            idempotency_key=key,
        )


async def close_expired_tasks(limit: int = 500) -> int:
    """Sweep: close live tasks whose expiry has passed. Returns how many closed."""
    now = clock.now()
    ids = (
        await Task.filter(status__in=LIVE_TASK_STATUSES, expires_at__lte=now)
        .order_by("expires_at", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    closed = 0
    for task_id in ids:
        async with unit_of_work() as work:
            if await close_in_transaction(work, task_id, CloseReason.EXPIRED, ledger.SYSTEM):
                closed += 1
    return closed
