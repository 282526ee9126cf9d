"""Work on submissions: a worker starts (reserving a reward), submits proof, disputes a
rejection, rates the task; work not sent in time expires. The team's decisions are in
`services/review.py`.

Every transition is a conditional update from the state it was checked in
(`submission_states`), so two concurrent changes of one submission cannot both succeed;
each money effect goes through the ledger in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from gql_server import clock
from gql_server.models import (
    Account,
    Dispute,
    Submission,
    Task,
    TaskDayCounter,
    TaskRating,
    TaskWorkerCounter,
    Worker,
)
from gql_server.models.enums import (
    ActorKind,
    LedgerReason,
    ProofKind,
    SubmissionState,
    TaskStatus,
)
from gql_server.models.vocabulary import FINAL_REVIEW_STATES
from gql_server.services import eligibility, ledger, slots
from gql_server.services.errors import ErrorCode, FieldError, Key, UseCaseError, not_found
from gql_server.services.events import (
    SubmissionDisputed,
    SubmissionsExpired,
    SubmissionStarted,
    SubmissionSubmitted,
    unit_of_work,
)
from gql_server.services.idempotency import IdempotencyKey, Recorder, once
from gql_server.services.principals import WorkerPrincipal
from gql_server.services.submission_states import (
    can_transition,
    changed_meanwhile,
    invalid_transition,
)

S = SubmissionState


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
                    ("response", Key(name)),
                )
            )
    for name, requirement in known.items():
        value = (response.get(name) or "").strip()
        path = ("response", Key(name))
        if not value:
            if requirement["required"]:
                errors.append(
                    FieldError(ErrorCode.VALIDATION, f"Proof {name!r} is required.", path)
                )
            continue
        if len(value) > 10_000:
            errors.append(
                FieldError(
                    ErrorCode.VALIDATION, f"Proof {name!r} is longer than 10000 characters.", path
                )
            )
        if requirement["kind"] in (ProofKind.LINK, ProofKind.SCREENSHOT_URL):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(
                    FieldError(
                        ErrorCode.VALIDATION, f"Proof {name!r} must be an http(s) URL.", path
                    )
                )
    return errors


def proof_fingerprint(response: dict[str, str]) -> str:
    normalised = {k: " ".join(v.split()).lower() for k, v in response.items() if v and v.strip()}
    return hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()


def _worker_actor() -> ledger.Actor:
    return ledger.Actor(ActorKind.WORKER)


async def _commit_reward(submission: Submission, key: str | None) -> None:
    await ledger.move(
        reason=LedgerReason.COMMIT,
        amount_minor=submission.reward_minor,
        account_id=submission.account_id,
        task_id=submission.task_id,
        submission_id=submission.id,
        worker_id=submission.worker_id,
        actor=_worker_actor(),
        idempotency_key=key,
    )


# --- worker side ------------------------------------------------------------------------


async def _visible_task(task_id: int | None, worker: Worker) -> Task:
    """A task the worker may see: not a draft, and a sandbox's task only to simulated
    workers (and a live task only to real ones)."""
    task = (
        await Task.get_or_none(id=task_id, account__sandbox=worker.simulated)
        if task_id is not None
        else None
    )
    if task is None or task.status == TaskStatus.DRAFT:
        raise not_found("Task", "task_id")
    return task


async def start_submission(
    principal: WorkerPrincipal, task_id: int | None, idempotency_key: str | None = None
) -> Submission:
    """Reserve one reward of an open task for the worker; every limit is checked."""
    idem = IdempotencyKey.of(principal, idempotency_key, "start_submission", {"task_id": task_id})

    async def body(recorder: Recorder) -> Submission:
        worker = await Worker.get(id=principal.worker_id)
        task = await _visible_task(task_id, worker)
        now = clock.now()
        if task.status != TaskStatus.OPEN:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE, f"The task is {task.status}; it cannot be started."
            )
        if task.starts_at is not None and task.starts_at > now:
            raise UseCaseError.single(ErrorCode.INVALID_STATE, "The task has not started yet.")
        if await eligibility.is_restricted(worker.id, task):
            raise UseCaseError.single(ErrorCode.RESTRICTED, "You cannot take this task.")
        reason = eligibility.ineligibility(
            await eligibility.load_profile(worker, task.account_id), task.targeting
        )
        if reason is not None:
            raise UseCaseError.single(ErrorCode.NOT_ELIGIBLE, reason)
        account = await Account.get(id=task.account_id)
        day = now.astimezone(ZoneInfo(account.timezone)).date()

        async with unit_of_work() as work:
            await recorder.claim()
            if task.remaining_minor < task.reward_minor:
                raise UseCaseError.single(
                    ErrorCode.INSUFFICIENT_FUNDS, "The task's budget cannot fund another reward."
                )
            slot = Task.filter(id=task.id, status=TaskStatus.OPEN).filter(
                Q(max_submissions__isnull=True) | Q(slots_taken__lt=F("max_submissions"))
            )
            if not await slot.update(slots_taken=F("slots_taken") + 1):
                raise UseCaseError.single(
                    ErrorCode.LIMIT_REACHED, "The task has no free submission slot."
                )
            counter, _ = await TaskWorkerCounter.get_or_create(task_id=task.id, worker_id=worker.id)
            if not await TaskWorkerCounter.filter(
                id=counter.id, slots_taken__lt=task.max_submissions_per_worker
            ).update(slots_taken=F("slots_taken") + 1):
                raise UseCaseError.single(
                    ErrorCode.LIMIT_REACHED, "You have reached this task's limit per worker."
                )
            if task.daily_submission_limit is not None:
                daily, _ = await TaskDayCounter.get_or_create(task_id=task.id, day=day)
                if not await TaskDayCounter.filter(
                    id=daily.id, started__lt=task.daily_submission_limit
                ).update(started=F("started") + 1):
                    raise UseCaseError.single(
                        ErrorCode.LIMIT_REACHED, "The task's daily limit is reached; try tomorrow."
                    )
            submission = await Submission.create(
                account_id=task.account_id,
                task_id=task.id,
                worker_id=worker.id,
                reward_minor=task.reward_minor,
                deadline_at=now + timedelta(seconds=task.time_limit_seconds),
                created_at=now,
            )
            await _commit_reward(submission, idem.key if idem else None)
            await work.raise_event(
                SubmissionStarted(task.account_id, task.id, submission.id, worker.id)
            )
            await recorder.complete({"submission_id": submission.id})
        return submission

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


async def _own_submission(principal: WorkerPrincipal, submission_id: int | None) -> Submission:
    """One of the worker's own submissions; anyone else's is answered as not found."""
    submission = (
        await Submission.get_or_none(id=submission_id, worker_id=principal.worker_id)
        if submission_id
        else None
    )
    if submission is None:
        raise not_found("Submission", "submission_id")
    return submission


async def submit_submission(
    principal: WorkerPrincipal, submission_id: int | None, response: dict[str, str]
) -> Submission:
    submission = await _own_submission(principal, submission_id)
    if not can_transition(submission.state, S.SUBMITTED):
        raise invalid_transition(submission.state, S.SUBMITTED)
    now = clock.now()
    if now > submission.deadline_at:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE, "The time limit of this submission has passed."
        )
    task = await Task.get(id=submission.task_id)
    if await eligibility.is_restricted(principal.worker_id, task):
        raise UseCaseError.single(ErrorCode.RESTRICTED, "You cannot submit to this task.")
    errors = validate_response(task.proof_requirements, response)
    if errors:
        raise UseCaseError(errors)
    clean = {k: v.strip() for k, v in response.items() if v is not None}
    async with unit_of_work() as work:
        history = submission.prior_responses + (
            [submission.response] if submission.response is not None else []
        )
        delay = task.auto_approval_delay_seconds
        if not await Submission.filter(id=submission.id, state=submission.state).update(
            state=S.SUBMITTED,
            response=clean,
            prior_responses=history,
            proof_fingerprint=proof_fingerprint(clean),
            submitted_at=now,
            first_submitted_at=submission.first_submitted_at or now,
            auto_approve_at=now + timedelta(seconds=delay) if delay else None,
            updated_at=now,
            version=F("version") + 1,
        ):
            raise changed_meanwhile()
        # The rules, then automatic acceptance, follow the event (services/handlers.py).
        await work.raise_event(
            SubmissionSubmitted(task.account_id, task.id, submission.id, submission.worker_id)
        )
    return await Submission.get(id=submission.id)


async def dispute_rejection(
    principal: WorkerPrincipal, submission_id: int | None, reason: str
) -> Submission:
    if not reason.strip():
        raise UseCaseError.single(ErrorCode.VALIDATION, "A dispute needs a reason.", "reason")
    submission = await _own_submission(principal, submission_id)
    if submission.state != S.REJECTED:
        raise invalid_transition(submission.state, S.DISPUTED)
    if await Dispute.filter(submission_id=submission.id).exists():
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            "This rejection was disputed once already; the decision stands.",
        )
    async with unit_of_work() as work:
        if not await Submission.filter(id=submission.id, state=S.REJECTED).update(
            state=S.DISPUTED, updated_at=clock.now(), version=F("version") + 1
        ):
            raise changed_meanwhile()
        await Dispute.create(
            submission_id=submission.id, worker_id=principal.worker_id, reason=reason.strip()
        )
        await work.raise_event(
            SubmissionDisputed(
                submission.account_id, submission.task_id, submission.id, submission.worker_id
            )
        )
    return await Submission.get(id=submission.id)


async def rate_task(
    principal: WorkerPrincipal, task_id: int | None, clarity: int, fairness: int, comment: str = ""
) -> TaskRating:
    errors = [
        FieldError(ErrorCode.VALIDATION, f"'{name}' is from 1 to 5.", (name,))
        for name, value in (("clarity", clarity), ("fairness", fairness))
        if not 1 <= value <= 5
    ]
    if len(comment) > 2000:
        errors.append(
            FieldError(
                ErrorCode.VALIDATION,
                "'comment' is longer than 2000 characters.",
                ("comment",),
            )
        )
    if errors:
        raise UseCaseError(errors)
    task = await _visible_task(task_id, await Worker.get(id=principal.worker_id))
    reviewed = await Submission.filter(
        task_id=task.id,
        worker_id=principal.worker_id,
        state__in=(*FINAL_REVIEW_STATES, S.DISPUTED),
    ).exists()
    if not reviewed:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE, "You can rate a task once your work on it was reviewed."
        )
    try:
        return await TaskRating.create(
            task_id=task.id,
            worker_id=principal.worker_id,
            clarity=clarity,
            fairness=fairness,
            comment=comment,
        )
    except IntegrityError:
        raise UseCaseError.single(
            ErrorCode.DUPLICATE, "You have rated this task already."
        ) from None


# --- sweeps -----------------------------------------------------------------------------


async def expire_started(limit: int = 500) -> int:
    """Work not sent by its deadline (started, or sent back for revision) -> EXPIRED.

    The reward and the slot are released, so abandoned work never holds money. The longest
    overdue first, so nothing due waits behind a full page forever.
    """
    now = clock.now()
    due = (
        await Submission.filter(state__in=(S.STARTED, S.REVISION_REQUESTED), deadline_at__lt=now)
        .order_by("deadline_at", "id")
        .limit(limit)
    )
    expired = 0
    for submission in due:
        async with unit_of_work() as work:
            if not await Submission.filter(id=submission.id, state=submission.state).update(
                state=S.EXPIRED, updated_at=now, version=F("version") + 1
            ):
                continue
            task = await Task.get(id=submission.task_id)
            item = ledger.BulkItem(
                submission.account_id,
                submission.task_id,
                submission.id,
                submission.worker_id,
                submission.reward_minor,
            )
            await ledger.release_rewards([item], task.status == TaskStatus.CLOSED, ledger.SYSTEM)
            await slots.release_slot(submission)
            await work.raise_event(
                SubmissionsExpired(submission.account_id, submission.task_id, (submission.id,))
            )
            expired += 1
    return expired
