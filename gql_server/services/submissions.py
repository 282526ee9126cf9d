"""Submissions: a worker starts (reserving a reward) and submits proof; the team reviews.

Every transition is a conditional update from the state it was checked in, so two
concurrent reviews of one submission cannot both succeed; each money effect goes through
the ledger in the same transaction.
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
    Review,
    Submission,
    Task,
    TaskDayCounter,
    TaskRating,
    TaskWorkerCounter,
    Worker,
)
from gql_server.models.enums import (
    AcceptanceMode,
    ActorKind,
    DisputeStatus,
    LedgerReason,
    ProofKind,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.rules.vocabulary import Event
from gql_server.services import eligibility, ledger, outbox, rule_engine, slots, streams
from gql_server.services.errors import ErrorCode, FieldError, Key, UseCaseError, not_found
from gql_server.services.events import UnitOfWork, unit_of_work
from gql_server.services.idempotency import IdempotencyKey, Recorder, once
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.task_lifecycle import close_if_done

S = SubmissionState

# Every allowed transition of SPEC section 4; anything else is INVALID_STATE.
TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    S.STARTED: frozenset({S.SUBMITTED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.REVISION_REQUESTED}),
    # A revision not sent back within the time limit is abandoned work: it expires.
    S.REVISION_REQUESTED: frozenset({S.SUBMITTED, S.EXPIRED}),
    S.REJECTED: frozenset({S.DISPUTED}),
    S.DISPUTED: frozenset({S.APPROVED, S.REJECTED, S.PARTIALLY_PAID}),
    S.APPROVED: frozenset(),
    S.EXPIRED: frozenset(),
    S.PARTIALLY_PAID: frozenset(),
}
PAID_STATES = (S.APPROVED, S.PARTIALLY_PAID)


def can_transition(current: SubmissionState, target: SubmissionState) -> bool:
    return target in TRANSITIONS[current]


def _invalid(current: SubmissionState, target: SubmissionState) -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.INVALID_STATE, f"A submission that is {current} cannot become {target}."
    )


def _changed_meanwhile() -> UseCaseError:
    return UseCaseError.single(
        ErrorCode.INVALID_STATE, "The submission changed meanwhile; read it again."
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


def _member_actor(principal: MemberPrincipal) -> ledger.Actor:
    return ledger.Actor(ActorKind.MEMBER, principal.member_id)


async def _move(
    reason: LedgerReason,
    submission: Submission,
    amount: int,
    actor: ledger.Actor,
    key: str | None = None,
) -> None:
    await ledger.move(
        reason=reason,
        amount_minor=amount,
        account_id=submission.account_id,
        task_id=submission.task_id,
        submission_id=submission.id,
        worker_id=submission.worker_id,
        actor=actor,
        idempotency_key=key,
    )


async def _draw_for_closed_task(submission: Submission, amount: int, actor: ledger.Actor) -> None:
    """A closed task has given its remaining back: draw what a late payment needs again."""
    task = await Task.get(id=submission.task_id)
    if task.status == TaskStatus.CLOSED and task.remaining_minor < amount:
        await _move(LedgerReason.ALLOCATE, submission, amount - task.remaining_minor, actor)


async def _release(submission: Submission, actor: ledger.Actor) -> None:
    """Give a submission's committed reward back; on a closed task, on to the account."""
    await _move(LedgerReason.RELEASE, submission, submission.reward_minor, actor)
    task = await Task.get(id=submission.task_id)
    if task.status == TaskStatus.CLOSED:
        await _move(LedgerReason.RETURN, submission, submission.reward_minor, actor)


# --- worker side ------------------------------------------------------------------------


async def _visible_task(task_id: int | None) -> Task:
    task = await Task.get_or_none(id=task_id) if task_id is not None else None
    if task is None or task.status == TaskStatus.DRAFT:
        raise not_found("Task", "task_id")
    return task


async def start_submission(
    principal: WorkerPrincipal, task_id: int | None, idem: IdempotencyKey | None = None
) -> Submission:
    """Reserve one reward of an open task for the worker; every limit is checked."""

    async def body(recorder: Recorder) -> Submission:
        task = await _visible_task(task_id)
        worker = await Worker.get(id=principal.worker_id)
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
            await _move(
                LedgerReason.COMMIT,
                submission,
                task.reward_minor,
                _worker_actor(),
                idem.key if idem else None,
            )
            await streams.emit_figures(work, task.id, "started")
            # The start lowered the remaining budget: automatic top-ups.
            await rule_engine.run_rules(work, (Event.BUDGET_CHANGE,), task)
            await recorder.complete({"submission_id": submission.id})
        return submission

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


async def submit_submission(
    principal: WorkerPrincipal, submission_id: int | None, response: dict[str, str]
) -> Submission:
    submission = (
        await Submission.get_or_none(id=submission_id, worker_id=principal.worker_id)
        if submission_id
        else None
    )
    if submission is None:
        raise not_found("Submission", "submission_id")
    if not can_transition(submission.state, S.SUBMITTED):
        raise _invalid(submission.state, S.SUBMITTED)
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
            raise _changed_meanwhile()
        streams.emit_queue(work, task, submission.id, "added")
        await outbox.enqueue_submission_events(outbox.SUBMISSION_SUBMITTED, [submission.id])
        submission = await Submission.get(id=submission.id)
        # Before the automatic acceptance, so that automation may reject spam first.
        await rule_engine.run_for_submission(work, (Event.SUBMISSION,), submission, task)
        submission = await Submission.get(id=submission.id)
        if task.acceptance_mode == AcceptanceMode.AUTOMATIC and submission.state == S.SUBMITTED:
            await _approve_in(work, submission, ledger.SYSTEM, None, None)
    return await Submission.get(id=submission.id)


async def dispute_rejection(
    principal: WorkerPrincipal, submission_id: int | None, reason: str
) -> Submission:
    if not reason.strip():
        raise UseCaseError.single(ErrorCode.VALIDATION, "A dispute needs a reason.", "reason")
    submission = (
        await Submission.get_or_none(id=submission_id, worker_id=principal.worker_id)
        if submission_id
        else None
    )
    if submission is None:
        raise not_found("Submission", "submission_id")
    if submission.state != S.REJECTED:
        raise _invalid(submission.state, S.DISPUTED)
    if await Dispute.filter(submission_id=submission.id).exists():
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            "This rejection was disputed once already; the decision stands.",
        )
    async with unit_of_work() as work:
        if not await Submission.filter(id=submission.id, state=S.REJECTED).update(
            state=S.DISPUTED, updated_at=clock.now(), version=F("version") + 1
        ):
            raise _changed_meanwhile()
        await Dispute.create(
            submission_id=submission.id, worker_id=principal.worker_id, reason=reason.strip()
        )
        streams.emit_queue(work, await Task.get(id=submission.task_id), submission.id, "disputed")
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
    task = await _visible_task(task_id)
    reviewed = await Submission.filter(
        task_id=task.id,
        worker_id=principal.worker_id,
        state__in=(*eligibility.REVIEWED_STATES, S.DISPUTED),
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


# --- requester side ---------------------------------------------------------------------


async def get_submission(account_id: int, submission_id: int | None) -> Submission:
    submission = (
        await Submission.get_or_none(id=submission_id, account_id=account_id)
        if submission_id is not None
        else None
    )
    if submission is None:
        raise not_found("Submission", "submission_id")
    return submission


async def _approve_in(
    work: UnitOfWork,
    submission: Submission,
    actor: ledger.Actor,
    member_id: int | None,
    key: str | None,
    rule_id: int | None = None,
) -> None:
    now = clock.now()
    if not await Submission.filter(id=submission.id, state=S.SUBMITTED).update(
        state=S.APPROVED,
        reviewed_at=now,
        paid_minor=submission.reward_minor,
        auto_approve_at=None,
        updated_at=now,
        version=F("version") + 1,
    ):
        raise _changed_meanwhile()
    await Task.filter(id=submission.task_id).update(approved_count=F("approved_count") + 1)
    await Review.create(
        submission_id=submission.id,
        decision=ReviewDecision.APPROVED,
        actor_kind=actor.kind,
        member_id=member_id,
        rule_id=rule_id,
        created_at=now,
    )
    await _move(LedgerReason.PAY, submission, submission.reward_minor, actor, key)
    await outbox.enqueue_submission_events(outbox.SUBMISSION_REVIEWED, [submission.id])
    task = await streams.emit_figures(work, submission.task_id, "approved")
    streams.emit_queue(work, task, submission.id, "removed")
    await close_if_done(work, task.id)
    await rule_engine.run_for_submission(work, (Event.REVIEW, Event.PAYMENT), submission, task)


async def approve_by_rule(work: UnitOfWork, submission: Submission, rule_id: int) -> None:
    """A rule accepts a pending answer, in the transaction of the event that fired it."""
    await _approve_in(work, submission, rule_engine.RULE_ACTOR, None, None, rule_id)


async def approve_submission(
    principal: MemberPrincipal, submission_id: int | None, idem: IdempotencyKey | None = None
) -> Submission:
    """SUBMITTED -> APPROVED: the committed reward is paid to the worker at once."""

    async def body(recorder: Recorder) -> Submission:
        submission = await get_submission(principal.account_id, submission_id)
        if submission.state != S.SUBMITTED:
            raise _invalid(submission.state, S.APPROVED)
        async with unit_of_work() as work:
            await recorder.claim()
            await _approve_in(
                work,
                submission,
                _member_actor(principal),
                principal.member_id,
                idem.key if idem else None,
            )
            await recorder.complete({"submission_id": submission.id})
        return await Submission.get(id=submission.id)

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


def _feedback(feedback: str, what: str) -> str:
    text = feedback.strip()
    if not text:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"{what} needs feedback for the worker.", "feedback"
        )
    if len(text) > 5000:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'feedback' is longer than 5000 characters.", "feedback"
        )
    return text


async def _reject_in(
    work: UnitOfWork,
    submission: Submission,
    feedback: str,
    actor: ledger.Actor,
    member_id: int | None,
    rule_id: int | None = None,
) -> None:
    now = clock.now()
    if not await Submission.filter(id=submission.id, state=S.SUBMITTED).update(
        state=S.REJECTED,
        reviewed_at=now,
        feedback=feedback,
        auto_approve_at=None,
        updated_at=now,
        version=F("version") + 1,
    ):
        raise _changed_meanwhile()
    await Review.create(
        submission_id=submission.id,
        decision=ReviewDecision.REJECTED,
        feedback=feedback,
        actor_kind=actor.kind,
        member_id=member_id,
        rule_id=rule_id,
        created_at=now,
    )
    await _release(submission, actor)
    await outbox.enqueue_submission_events(outbox.SUBMISSION_REVIEWED, [submission.id])
    task = await Task.get(id=submission.task_id)
    if task.reopen_rejected_slots:
        await slots.release_slot(submission)
    task = await streams.emit_figures(work, task.id, "rejected")
    streams.emit_queue(work, task, submission.id, "removed")
    await close_if_done(work, task.id)
    await rule_engine.run_for_submission(work, (Event.REVIEW,), submission, task)


async def reject_by_rule(
    work: UnitOfWork, submission: Submission, reason: str, rule_id: int
) -> None:
    """A rule declines a pending answer with the rule's reason as feedback."""
    await _reject_in(work, submission, reason, rule_engine.RULE_ACTOR, None, rule_id)


async def reject_submission(
    principal: MemberPrincipal,
    submission_id: int | None,
    feedback: str,
    idem: IdempotencyKey | None = None,
) -> Submission:
    """SUBMITTED -> REJECTED with feedback: the committed reward returns to remaining."""
    text = _feedback(feedback, "A rejection")

    async def body(recorder: Recorder) -> Submission:
        submission = await get_submission(principal.account_id, submission_id)
        if submission.state != S.SUBMITTED:
            raise _invalid(submission.state, S.REJECTED)
        async with unit_of_work() as work:
            await recorder.claim()
            await _reject_in(work, submission, text, _member_actor(principal), principal.member_id)
            await recorder.complete({"submission_id": submission.id})
        return await Submission.get(id=submission.id)

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


async def request_revision(
    principal: MemberPrincipal, submission_id: int | None, feedback: str
) -> Submission:
    """SUBMITTED -> REVISION_REQUESTED: the reward stays committed; the worker resubmits."""
    text = _feedback(feedback, "A revision request")
    submission = await get_submission(principal.account_id, submission_id)
    if submission.state != S.SUBMITTED:
        raise _invalid(submission.state, S.REVISION_REQUESTED)
    task = await Task.get(id=submission.task_id)
    now = clock.now()
    async with unit_of_work() as work:
        if not await Submission.filter(id=submission.id, state=S.SUBMITTED).update(
            state=S.REVISION_REQUESTED,
            feedback=text,
            revision_count=F("revision_count") + 1,
            deadline_at=now + timedelta(seconds=task.time_limit_seconds),
            auto_approve_at=None,
            updated_at=now,
            version=F("version") + 1,
        ):
            raise _changed_meanwhile()
        await Review.create(
            submission_id=submission.id,
            decision=ReviewDecision.REVISION_REQUESTED,
            feedback=text,
            actor_kind=ActorKind.MEMBER,
            member_id=principal.member_id,
            created_at=now,
        )
        await outbox.enqueue_submission_events(outbox.SUBMISSION_REVIEWED, [submission.id])
        streams.emit_queue(work, task, submission.id, "removed")
    return await Submission.get(id=submission.id)


async def pay_bonus(
    principal: MemberPrincipal,
    submission_id: int | None,
    amount_minor: int,
    idem: IdempotencyKey | None = None,
) -> Submission:
    """A bonus to the worker of a paid submission, spent from the task's remaining budget."""
    if amount_minor <= 0:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "'amount' must be more than zero.", "amount"
        )

    async def body(recorder: Recorder) -> Submission:
        submission = await get_submission(principal.account_id, submission_id)
        if submission.state not in PAID_STATES:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE,
                f"A bonus goes with paid work; this submission is {submission.state}.",
            )
        async with unit_of_work() as work:
            await recorder.claim()
            await pay_bonus_in(
                work, submission, amount_minor, _member_actor(principal), idem.key if idem else None
            )
            await recorder.complete({"submission_id": submission.id})
        return await Submission.get(id=submission.id)

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


async def pay_bonus_in(
    work: UnitOfWork,
    submission: Submission,
    amount_minor: int,
    actor: ledger.Actor,
    key: str | None,
) -> None:
    """Pay a bonus on paid work from the task's remaining, in the caller's transaction."""
    await _draw_for_closed_task(submission, amount_minor, actor)
    await _move(LedgerReason.BONUS, submission, amount_minor, actor, key)
    await Submission.filter(id=submission.id).update(
        paid_minor=F("paid_minor") + amount_minor,
        updated_at=clock.now(),
        version=F("version") + 1,
    )
    task = await streams.emit_figures(work, submission.task_id, "bonus")
    # Before the closure check: a top-up may keep the task open.
    await rule_engine.run_for_submission(
        work, (Event.PAYMENT, Event.BUDGET_CHANGE), submission, task
    )
    await close_if_done(work, submission.task_id)


async def resolve_dispute(
    principal: MemberPrincipal,
    submission_id: int | None,
    resolution: DisputeStatus,
    note: str = "",
    amount_minor: int | None = None,
    idem: IdempotencyKey | None = None,
) -> Submission:
    """UPHELD -> REJECTED; OVERTURNED -> APPROVED and paid; PARTIALLY_PAID -> paid `amount`."""
    if resolution == DisputeStatus.OPEN:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Choose how the dispute is resolved.", "resolution"
        )
    if resolution == DisputeStatus.PARTIALLY_PAID and (amount_minor is None or amount_minor <= 0):
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "A partial payment needs an amount above zero.", "amount"
        )
    if resolution != DisputeStatus.PARTIALLY_PAID and amount_minor is not None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Only a partial payment takes an amount.", "amount"
        )

    async def body(recorder: Recorder) -> Submission:
        submission = await get_submission(principal.account_id, submission_id)
        if submission.state != S.DISPUTED:
            raise UseCaseError.single(
                ErrorCode.INVALID_STATE,
                f"Only a disputed submission can be resolved; it is {submission.state}.",
            )
        if amount_minor is not None and amount_minor > submission.reward_minor:
            raise UseCaseError.single(
                ErrorCode.VALIDATION,
                "A partial payment cannot exceed the reward.",
                "amount",
            )
        target = {
            DisputeStatus.UPHELD: S.REJECTED,
            DisputeStatus.OVERTURNED: S.APPROVED,
            DisputeStatus.PARTIALLY_PAID: S.PARTIALLY_PAID,
        }[resolution]
        paid = {DisputeStatus.UPHELD: 0, DisputeStatus.OVERTURNED: submission.reward_minor}.get(
            resolution, amount_minor or 0
        )
        now = clock.now()
        actor = _member_actor(principal)
        key = idem.key if idem else None
        async with unit_of_work() as work:
            await recorder.claim()
            if not await Submission.filter(id=submission.id, state=S.DISPUTED).update(
                state=target, paid_minor=paid, updated_at=now, version=F("version") + 1
            ):
                raise _changed_meanwhile()
            await Dispute.filter(submission_id=submission.id, status=DisputeStatus.OPEN).update(
                status=resolution,
                resolution_note=note,
                paid_minor=paid,
                resolved_by_id=principal.member_id,
                resolved_at=now,
            )
            if resolution == DisputeStatus.OVERTURNED:
                await _draw_for_closed_task(submission, paid, actor)
                await _move(LedgerReason.COMMIT, submission, paid, actor, key)
                await _move(LedgerReason.PAY, submission, paid, actor, key)
                await Task.filter(id=submission.task_id).update(
                    approved_count=F("approved_count") + 1
                )
                await Review.create(
                    submission_id=submission.id,
                    decision=ReviewDecision.APPROVED,
                    feedback=note or None,
                    actor_kind=ActorKind.MEMBER,
                    member_id=principal.member_id,
                    created_at=now,
                )
            elif resolution == DisputeStatus.PARTIALLY_PAID:
                await _draw_for_closed_task(submission, paid, actor)
                await _move(LedgerReason.PARTIAL_PAYMENT, submission, paid, actor, key)
            await outbox.enqueue_submission_events(outbox.SUBMISSION_REVIEWED, [submission.id])
            task = await streams.emit_figures(work, submission.task_id, "dispute_resolved")
            streams.emit_queue(work, task, submission.id, "removed")
            # The resolution is a review; paying anything is a payment from the remaining
            # (rules first: a top-up may keep the task open).
            events = (Event.REVIEW, Event.PAYMENT, Event.BUDGET_CHANGE) if paid else (Event.REVIEW,)
            await rule_engine.run_for_submission(work, events, submission, task)
            await close_if_done(work, task.id)
            await recorder.complete({"submission_id": submission.id})
        return await Submission.get(id=submission.id)

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


# --- sweeps -----------------------------------------------------------------------------


async def expire_started(limit: int = 500) -> int:
    """Work not sent by its deadline (started, or sent back for revision) -> EXPIRED.

    The reward and the slot are released, so abandoned work never holds money.
    """
    now = clock.now()
    due = await Submission.filter(
        state__in=(S.STARTED, S.REVISION_REQUESTED), deadline_at__lt=now
    ).limit(limit)
    expired = 0
    for submission in due:
        async with unit_of_work() as work:
            if not await Submission.filter(id=submission.id, state=submission.state).update(
                state=S.EXPIRED, updated_at=now, version=F("version") + 1
            ):
                continue
            await _release(submission, ledger.SYSTEM)
            await slots.release_slot(submission)
            await streams.emit_figures(work, submission.task_id, "expired")
            await close_if_done(work, submission.task_id)
            expired += 1
    return expired


async def auto_approve_due(limit: int = 500) -> int:
    """SUBMITTED and unreviewed past the task's auto-approval delay -> APPROVED."""
    now = clock.now()
    due = await Submission.filter(state=S.SUBMITTED, auto_approve_at__lte=now).limit(limit)
    approved = 0
    for submission in due:
        try:
            async with unit_of_work() as work:
                await _approve_in(work, submission, ledger.SYSTEM, None, None)
        except UseCaseError:
            continue  # reviewed by a person meanwhile
        approved += 1
    return approved
