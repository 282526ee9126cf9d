"""Submissions: a worker starts (reserving a reward), submits proof; a member reviews."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Review, Submission, Task, TaskWorkerCounter
from gql_server.models.enums import (
    ActorKind,
    LedgerReason,
    ProofKind,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.services import ledger
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, not_found
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal

S = SubmissionState

# Every allowed transition of SPEC section 4; anything else is INVALID_STATE.
TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    S.STARTED: frozenset({S.SUBMITTED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.REVISION_REQUESTED}),
    S.REVISION_REQUESTED: frozenset({S.SUBMITTED}),
    S.REJECTED: frozenset({S.DISPUTED}),
    S.DISPUTED: frozenset({S.APPROVED, S.REJECTED, S.PARTIALLY_PAID}),
    S.APPROVED: frozenset(),
    S.EXPIRED: frozenset(),
    S.PARTIALLY_PAID: frozenset(),
}


def can_transition(current: SubmissionState, target: SubmissionState) -> bool:
    return target in TRANSITIONS[current]


def _invalid(current: SubmissionState, target: SubmissionState) -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.INVALID_STATE, f"A submission in state {current} cannot become {target}."
    )


def validate_response(
    requirements: list[dict[str, Any]], response: dict[str, str]
) -> list[FieldError]:
    """Check a response (proof name -> value) against the task's proof requirements."""
    errors = []
    known = {r["name"]: r for r in requirements}
    for name in response:
        if name not in known:
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION,
                    f"The task asks for no proof named {name!r}.",
                    ("input", "response", name),
                )
            )
    for name, requirement in known.items():
        value = (response.get(name) or "").strip()
        path = ("input", "response", name)
        if not value:
            if requirement["required"]:
                errors.append(
                    FieldError(ErrorCode.VALIDATION, f"Proof {name!r} is required.", path)
                )
            continue
        if requirement["kind"] in (ProofKind.LINK, ProofKind.SCREENSHOT_URL):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(
                    FieldError(
                        ErrorCode.VALIDATION, f"Proof {name!r} must be an http(s) URL.", path
                    )
                )
        if len(value) > 10_000:
            errors.append(FieldError(ErrorCode.VALIDATION, f"Proof {name!r} is too long.", path))
    return errors


async def start_submission(principal: WorkerPrincipal, task_id: int) -> Submission:
    """Reserve one reward of an open task for the worker (committed)."""
    task = await Task.get_or_none(id=task_id)
    if task is None or task.status == TaskStatus.DRAFT:
        raise not_found("Task", "input", "taskId")
    if task.status != TaskStatus.OPEN:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE, f"The task is {task.status}; it cannot be started."
        )
    now = clock.now()
    async with in_transaction():
        slot = Task.filter(id=task.id, status=TaskStatus.OPEN).filter(
            Q(max_submissions__isnull=True) | Q(slots_taken__lt=F("max_submissions"))
        )
        if not await slot.update(slots_taken=F("slots_taken") + 1):
            raise UseCaseError.single(
                ErrorCode.LIMIT_REACHED, "The task has no free submission slot."
            )
        counter, _ = await TaskWorkerCounter.get_or_create(
            task_id=task.id, worker_id=principal.worker_id
        )
        held = await TaskWorkerCounter.filter(
            id=counter.id, slots_taken__lt=task.max_submissions_per_worker
        ).update(slots_taken=F("slots_taken") + 1)
        if not held:
            raise UseCaseError.single(
                ErrorCode.LIMIT_REACHED,
                "You have reached this task's limit of submissions per worker.",
            )
        submission = await Submission.create(
            account_id=task.account_id,
            task_id=task.id,
            worker_id=principal.worker_id,
            reward_minor=task.reward_minor,
            deadline_at=now + timedelta(seconds=task.time_limit_seconds),
            created_at=now,
        )
        await ledger.move(
            reason=LedgerReason.COMMIT,
            amount_minor=task.reward_minor,
            account_id=task.account_id,
            task_id=task.id,
            submission_id=submission.id,
            worker_id=principal.worker_id,
            actor=ledger.Actor(ActorKind.WORKER),
        )
    return submission


async def submit_submission(
    principal: WorkerPrincipal, submission_id: int, response: dict[str, str]
) -> Submission:
    submission = await Submission.get_or_none(id=submission_id, worker_id=principal.worker_id)
    if submission is None:
        raise not_found("Submission", "input", "submissionId")
    if not can_transition(submission.state, S.SUBMITTED):
        raise _invalid(submission.state, S.SUBMITTED)
    now = clock.now()
    if submission.state == S.STARTED and now > submission.deadline_at:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE, "The time limit of this submission has passed."
        )
    task = await Task.get(id=submission.task_id)
    errors = validate_response(task.proof_requirements, response)
    if errors:
        raise UseCaseError(errors)
    async with in_transaction():
        moved = await Submission.filter(id=submission.id, state=submission.state).update(
            state=S.SUBMITTED,
            response=response,
            prior_responses=[*submission.prior_responses, submission.response]
            if submission.response is not None
            else submission.prior_responses,
            submitted_at=now,
            first_submitted_at=submission.first_submitted_at or now,
            auto_approve_at=now + timedelta(seconds=task.auto_approval_delay_seconds)
            if task.auto_approval_delay_seconds
            else None,
            updated_at=now,
            version=F("version") + 1,
        )
        if not moved:
            raise UseCaseError.single(ErrorCode.INVALID_STATE, "The submission changed meanwhile.")
    return await Submission.get(id=submission.id)


async def _get_for_review(principal: MemberPrincipal, submission_id: int) -> Submission:
    submission = await Submission.get_or_none(id=submission_id, account_id=principal.account_id)
    if submission is None:
        raise not_found("Submission", "input", "submissionId")
    return submission


async def approve_submission(principal: MemberPrincipal, submission_id: int) -> Submission:
    """SUBMITTED -> APPROVED: the committed reward is paid to the worker at once."""
    submission = await _get_for_review(principal, submission_id)
    if not can_transition(submission.state, S.APPROVED) or submission.state == S.DISPUTED:
        raise _invalid(submission.state, S.APPROVED)
    now = clock.now()
    async with in_transaction():
        if not await Submission.filter(id=submission.id, state=S.SUBMITTED).update(
            state=S.APPROVED,
            reviewed_at=now,
            paid_minor=submission.reward_minor,
            updated_at=now,
            version=F("version") + 1,
        ):
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, "The submission was reviewed meanwhile."
            )
        await Task.filter(id=submission.task_id).update(approved_count=F("approved_count") + 1)
        await Review.create(
            submission_id=submission.id,
            decision=ReviewDecision.APPROVED,
            actor_kind=ActorKind.MEMBER,
            member_id=principal.member_id,
            created_at=now,
        )
        await ledger.move(
            reason=LedgerReason.PAY,
            amount_minor=submission.reward_minor,
            account_id=principal.account_id,
            task_id=submission.task_id,
            submission_id=submission.id,
            worker_id=submission.worker_id,
            actor=ledger.Actor(ActorKind.MEMBER, principal.member_id),
        )
    return await Submission.get(id=submission.id)


async def reject_submission(
    principal: MemberPrincipal, submission_id: int, feedback: str
) -> Submission:
    """SUBMITTED -> REJECTED with feedback: the committed reward returns to remaining."""
    if not feedback.strip():
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "A rejection needs feedback for the worker.", "input", "feedback"
        )
    submission = await _get_for_review(principal, submission_id)
    if submission.state != S.SUBMITTED:
        raise _invalid(submission.state, S.REJECTED)
    now = clock.now()
    async with in_transaction():
        if not await Submission.filter(id=submission.id, state=S.SUBMITTED).update(
            state=S.REJECTED,
            reviewed_at=now,
            feedback=feedback.strip(),
            updated_at=now,
            version=F("version") + 1,
        ):
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, "The submission was reviewed meanwhile."
            )
        await Review.create(
            submission_id=submission.id,
            decision=ReviewDecision.REJECTED,
            feedback=feedback.strip(),
            actor_kind=ActorKind.MEMBER,
            member_id=principal.member_id,
            created_at=now,
        )
        await ledger.move(
            reason=LedgerReason.RELEASE,
            amount_minor=submission.reward_minor,
            account_id=principal.account_id,
            task_id=submission.task_id,
            submission_id=submission.id,
            worker_id=submission.worker_id,
            actor=ledger.Actor(ActorKind.MEMBER, principal.member_id),
        )
    return await Submission.get(id=submission.id)
