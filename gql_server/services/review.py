"""Review: the requester's pay decisions on submissions, through one set-based pipeline.

Every decision that moves a submission into APPROVED, REJECTED or PARTIALLY_PAID goes
through `review`, and nothing else writes those states: a single approval or rejection (a
batch of one), bulk review, dispute resolution, a rule accepting or declining answers,
automatic acceptance and the auto-approval sweep. `review` takes exactly the submissions
that are still in the state the decision starts from, with one `UPDATE ... RETURNING` per
chunk (so two concurrent reviews of one submission cannot both succeed), writes the review
rows, moves the money through the ledger (one guarded update per task and one bulk insert
per movement), and raises one `SubmissionsReviewed` per task. What follows a review (the
callback, the rules, automatic closure, the live streams) is the event handlers' work.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import F

from gql_server import clock
from gql_server.models import Dispute, Review, Submission, Task
from gql_server.models.bulk import insert_rows
from gql_server.models.enums import (
    AcceptanceMode,
    ActorKind,
    DisputeStatus,
    FiguresChange,
    LedgerReason,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.models.vocabulary import PAID_STATES
from gql_server.services import conversations, ledger, slots
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError, not_found
from gql_server.services.events import (
    BonusPaid,
    DomainEvent,
    Handler,
    Reviewed,
    SubmissionsReviewed,
    SubmissionSubmitted,
    UnitOfWork,
    unit_of_work,
)
from gql_server.services.idempotency import IdempotencyKey, Recorder, once
from gql_server.services.principals import MemberPrincipal
from gql_server.services.submission_states import (
    can_transition,
    changed_meanwhile,
    invalid_transition,
)
from gql_server.services.tenancy import owned

logger = logging.getLogger(__name__)

S = SubmissionState
MAX_BULK_ITEMS = 10_000
_CHUNK = 2_000

# The review row each decision leaves (a dispute upheld or partly paid leaves none: the
# rejection it disputed stands as the review, and the payment is in the ledger).
_REVIEW_ROW = {
    (S.SUBMITTED, S.APPROVED): ReviewDecision.APPROVED,
    (S.SUBMITTED, S.REJECTED): ReviewDecision.REJECTED,
    (S.DISPUTED, S.APPROVED): ReviewDecision.APPROVED,
}
_REVIEW_COLUMNS = (
    *(("submission_id", "bigint"), ("decision", "text"), ("feedback", "text")),
    *(("actor_kind", "text"), ("member_id", "bigint"), ("rule_id", "bigint")),
    ("created_at", "timestamptz"),
)
# The states a review moves work into: paid, rejected, or partly paid after a dispute.
_PAY_DECISIONS = frozenset({S.APPROVED, S.REJECTED, S.PARTIALLY_PAID})
# How the budget streams name a first decision's money (a dispute's is DISPUTE_RESOLVED).
_FIGURES = {S.APPROVED: FiguresChange.APPROVED, S.REJECTED: FiguresChange.REJECTED}


def member_actor(principal: MemberPrincipal) -> ledger.Actor:
    return ledger.Actor(ActorKind.MEMBER, principal.member_id)


async def get_submission(account_id: int, submission_id: int | None) -> Submission:
    """One of the account's submissions; another account's is answered as not found."""
    return await owned(Submission, account_id, submission_id, "Submission", "submission_id")


# --- the pipeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a review does: the state it moves submissions from and to, and its details."""

    source: SubmissionState
    target: SubmissionState
    actor: ledger.Actor
    feedback: str | None = None
    rule_id: int | None = None
    idempotency_key: str | None = None
    # What a partial payment pays (PARTIALLY_PAID only).
    partial_minor: int | None = None
    # How the budget streams name the money it moves; by default after the target state.
    figures: FiguresChange | None = None

    @property
    def from_dispute(self) -> bool:
        return self.source is S.DISPUTED


@dataclass(frozen=True)
class _Taken:
    submission_id: int
    task_id: int
    worker_id: int
    reward_minor: int
    paid_minor: int


def _paid(decision: Decision, reward_minor: int) -> int:
    if decision.target is S.APPROVED:
        return reward_minor
    if decision.target is S.PARTIALLY_PAID:
        assert decision.partial_minor is not None
        return decision.partial_minor
    return 0


def _update_sql(
    account_id: int, ids: Sequence[int], decision: Decision, now: object, postgres: bool
) -> tuple[str, list[object]]:
    """The conditional UPDATE ... RETURNING of one chunk, with its parameters."""
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value)
        return f"${len(params)}" if postgres else "?"

    sets = [
        f'"state" = {param(decision.target.value)}',
        f'"updated_at" = {param(now)}',
        '"version" = "version" + 1',
    ]
    if decision.target is S.APPROVED:
        sets.append('"paid_minor" = "reward_minor"')
    elif decision.target is S.PARTIALLY_PAID:
        sets.append(f'"paid_minor" = {param(decision.partial_minor)}')
    elif decision.from_dispute:
        sets.append('"paid_minor" = 0')
    if not decision.from_dispute:
        # A first decision: when it was reviewed, and the feedback the worker reads.
        sets += [
            f'"reviewed_at" = {param(now)}',
            f'"feedback" = COALESCE({param(decision.feedback)}, "feedback")',
            '"auto_approve_at" = NULL',
        ]
    where = (
        f'"account_id" = {param(account_id)} AND "state" = {param(decision.source.value)} '
        f'AND "id" IN ({", ".join(param(pk) for pk in ids)})'
    )
    sql = (
        f'UPDATE "submission" SET {", ".join(sets)} WHERE {where} '
        'RETURNING "id", "task_id", "worker_id", "reward_minor"'
    )
    return sql, params


async def _take(account_id: int, ids: Sequence[int], decision: Decision) -> list[_Taken]:
    """Move those of `ids` still in the decision's source state; return what moved."""
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    now = clock.now()
    taken: list[_Taken] = []
    for start in range(0, len(ids), _CHUNK):
        sql, params = _update_sql(account_id, ids[start : start + _CHUNK], decision, now, postgres)
        for row in await connection.execute_query_dict(sql, params):
            reward = int(row["reward_minor"])
            taken.append(
                _Taken(
                    int(row["id"]),
                    int(row["task_id"]),
                    int(row["worker_id"]),
                    reward,
                    _paid(decision, reward),
                )
            )
    return taken


def _reads_task(decision: Decision) -> bool:
    """Whether moving the decision's money depends on the task (closed or not, its
    remaining budget, whether rejected slots reopen): all but a first approval."""
    return decision.target is not S.APPROVED or decision.from_dispute


async def _move_money(
    account_id: int, decision: Decision, task: Task | None, rows: list[_Taken]
) -> None:
    key = decision.idempotency_key
    actor = decision.actor

    def items(amount_of: Any) -> list[ledger.BulkItem]:
        return [
            ledger.BulkItem(account_id, r.task_id, r.submission_id, r.worker_id, amount_of(r))
            for r in rows
            if amount_of(r)
        ]

    if decision.target is S.APPROVED and not decision.from_dispute:
        paid = items(lambda r: r.reward_minor)
        await ledger.move_many(LedgerReason.PAY, paid, actor, key, counted_in="approved_count")
        return
    assert task is not None, "only a first approval moves money without its task"
    closed = task.status == TaskStatus.CLOSED
    if not decision.from_dispute:
        await ledger.release_rewards(items(lambda r: r.reward_minor), closed, actor, key)
        return
    paying = items(lambda r: r.paid_minor)
    if not paying:
        return
    if closed:
        # A closed task has given its remaining back: draw what the payments need again.
        missing = sum(item.amount_minor for item in paying) - task.remaining_minor
        if missing > 0:
            await ledger.move(
                reason=LedgerReason.ALLOCATE,
                amount_minor=missing,
                account_id=account_id,
                task_id=task.id,
                submission_id=paying[0].submission_id if len(paying) == 1 else None,
                worker_id=paying[0].worker_id if len(paying) == 1 else None,
                actor=actor,
            )
    if decision.target is S.APPROVED:
        await ledger.move_many(LedgerReason.COMMIT, paying, actor, key)
        await ledger.move_many(LedgerReason.PAY, paying, actor, key)
    else:
        await ledger.move_many(LedgerReason.PARTIAL_PAYMENT, paying, actor, key)


async def review(
    work: UnitOfWork, account_id: int, submission_ids: Sequence[int], decision: Decision
) -> list[int]:
    """Apply `decision` to those of the account's `submission_ids` still in its source
    state, inside the caller's unit of work; return the ids it moved, in the given order."""
    if decision.target not in _PAY_DECISIONS or not can_transition(
        decision.source, decision.target
    ):
        raise invalid_transition(decision.source, decision.target)
    rows = await _take(account_id, submission_ids, decision)
    if not rows:
        return []
    now = clock.now()
    row_decision = _REVIEW_ROW.get((decision.source, decision.target))
    if row_decision is not None:
        actor = decision.actor
        await insert_rows(
            "review",
            _REVIEW_COLUMNS,
            [
                (
                    *(row.submission_id, row_decision, decision.feedback, actor.kind),
                    *(actor.member_id, decision.rule_id, now),
                )
                for row in rows
            ],
        )
    by_task: dict[int, list[_Taken]] = defaultdict(list)
    for row in rows:
        by_task[row.task_id].append(row)
    tasks = (
        {task.id: task for task in await Task.filter(id__in=list(by_task))}
        if _reads_task(decision)
        else {}
    )
    figures = decision.figures or (
        FiguresChange.DISPUTE_RESOLVED if decision.from_dispute else _FIGURES[decision.target]
    )
    for task_id in sorted(by_task):
        task, taken = tasks.get(task_id), by_task[task_id]
        await _move_money(account_id, decision, task, taken)
        if decision.from_dispute and decision.target is S.APPROVED:
            await Task.filter(id=task_id).update(approved_count=F("approved_count") + len(taken))
        if (
            task is not None
            and decision.target is S.REJECTED
            and not decision.from_dispute
            and task.reopen_rejected_slots
        ):
            await slots.release_slots([row.submission_id for row in taken])
        await work.raise_event(
            SubmissionsReviewed(
                account_id=account_id,
                task_id=task_id,
                state=decision.target,
                submissions=tuple(
                    Reviewed(row.submission_id, row.worker_id, row.paid_minor) for row in taken
                ),
                figures=figures,
                from_dispute=decision.from_dispute,
            )
        )
    moved = {row.submission_id for row in rows}
    return [pk for pk in submission_ids if pk in moved]


# --- single decisions ------------------------------------------------------------------------


async def _review_one(
    principal: MemberPrincipal,
    submission_id: int | None,
    target: SubmissionState,
    feedback: str | None,
    idem: IdempotencyKey | None,
    note: str | None = None,
) -> Submission:
    async def body(recorder: Recorder) -> Submission:
        if submission_id is None:
            raise not_found("Submission", "submission_id")
        decision = Decision(
            S.SUBMITTED,
            target,
            member_actor(principal),
            feedback=feedback,
            idempotency_key=idem.key if idem else None,
        )
        async with unit_of_work() as work:
            await recorder.claim()
            if not await review(work, principal.account_id, [submission_id], decision):
                # Nothing moved, so nothing is written: say why, read only on this path.
                submission = await get_submission(principal.account_id, submission_id)
                raise invalid_transition(submission.state, target)
            if note is not None:
                await conversations.post_review_note(
                    work, principal.account_id, principal.member_id, submission_id, note
                )
            await recorder.complete({"submission_id": submission_id})
        return await Submission.get(id=submission_id)

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


async def approve_submission(
    principal: MemberPrincipal,
    submission_id: int | None,
    idempotency_key: str | None = None,
    note: str | None = None,
) -> Submission:
    """SUBMITTED -> APPROVED: the committed reward is paid to the worker at once. A `note`
    (thanks) goes to the worker's thread of the submission, in the same transaction."""
    text = conversations.check_note(note)
    arguments: dict[str, Any] = {"submission_id": submission_id}
    if text is not None:
        arguments["note"] = text
    idem = IdempotencyKey.of(principal, idempotency_key, "approve_submission", arguments)
    return await _review_one(principal, submission_id, S.APPROVED, None, idem, text)


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


async def reject_submission(
    principal: MemberPrincipal,
    submission_id: int | None,
    feedback: str,
    idempotency_key: str | None = None,
) -> Submission:
    """SUBMITTED -> REJECTED with feedback: the committed reward returns to remaining."""
    idem = IdempotencyKey.of(
        principal,
        idempotency_key,
        "reject_submission",
        {"submission_id": submission_id, "feedback": feedback},
    )
    text = _feedback(feedback, "A rejection")
    return await _review_one(principal, submission_id, S.REJECTED, text, idem)


async def request_revision(
    principal: MemberPrincipal, submission_id: int | None, feedback: str
) -> Submission:
    """SUBMITTED -> REVISION_REQUESTED: the reward stays committed; the worker resubmits."""
    text = _feedback(feedback, "A revision request")
    submission = await get_submission(principal.account_id, submission_id)
    if submission.state != S.SUBMITTED:
        raise invalid_transition(submission.state, S.REVISION_REQUESTED)
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
            raise changed_meanwhile()
        await Review.create(
            submission_id=submission.id,
            decision=ReviewDecision.REVISION_REQUESTED,
            feedback=text,
            actor_kind=ActorKind.MEMBER,
            member_id=principal.member_id,
            created_at=now,
        )
        await work.raise_event(
            SubmissionsReviewed(
                account_id=task.account_id,
                task_id=task.id,
                state=S.REVISION_REQUESTED,
                submissions=(Reviewed(submission.id, submission.worker_id, 0),),
                figures=None,
            )
        )
    return await Submission.get(id=submission.id)


# --- bonuses --------------------------------------------------------------------------------


async def pay_bonus(
    principal: MemberPrincipal,
    submission_id: int | None,
    amount_minor: int,
    idempotency_key: str | None = None,
) -> Submission:
    """A bonus to the worker of a paid submission, spent from the task's remaining budget."""
    idem = IdempotencyKey.of(
        principal,
        idempotency_key,
        "pay_bonus",
        {"submission_id": submission_id, "amount_minor": amount_minor},
    )
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
                work, submission, amount_minor, member_actor(principal), idem.key if idem else None
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
    task = await Task.get(id=submission.task_id)
    if task.status == TaskStatus.CLOSED and task.remaining_minor < amount_minor:
        # A closed task has given its remaining back: draw what the bonus needs again.
        await ledger.move(
            reason=LedgerReason.ALLOCATE,
            amount_minor=amount_minor - task.remaining_minor,
            account_id=submission.account_id,
            task_id=submission.task_id,
            submission_id=submission.id,
            worker_id=submission.worker_id,
            actor=actor,
        )
    await ledger.move(
        reason=LedgerReason.BONUS,
        amount_minor=amount_minor,
        account_id=submission.account_id,
        task_id=submission.task_id,
        submission_id=submission.id,
        worker_id=submission.worker_id,
        actor=actor,
        idempotency_key=key,
    )
    await Submission.filter(id=submission.id).update(
        paid_minor=F("paid_minor") + amount_minor,
        updated_at=clock.now(),
        version=F("version") + 1,
    )
    await work.raise_event(
        BonusPaid(
            submission.account_id,
            submission.task_id,
            submission.id,
            submission.worker_id,
            amount_minor,
        )
    )


# --- disputes --------------------------------------------------------------------------------

_DISPUTE_TARGET = {
    DisputeStatus.UPHELD: S.REJECTED,
    DisputeStatus.OVERTURNED: S.APPROVED,
    DisputeStatus.PARTIALLY_PAID: S.PARTIALLY_PAID,
}


async def resolve_dispute(
    principal: MemberPrincipal,
    submission_id: int | None,
    resolution: DisputeStatus,
    note: str = "",
    amount_minor: int | None = None,
    idempotency_key: str | None = None,
) -> Submission:
    """UPHELD -> REJECTED; OVERTURNED -> APPROVED and paid; PARTIALLY_PAID -> paid `amount`."""
    idem = IdempotencyKey.of(
        principal,
        idempotency_key,
        "resolve_dispute",
        {
            "submission_id": submission_id,
            "resolution": resolution.value,
            "amount_minor": amount_minor,
        },
    )
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
                ErrorCode.VALIDATION, "A partial payment cannot exceed the reward.", "amount"
            )
        target = _DISPUTE_TARGET[resolution]
        decision = Decision(
            S.DISPUTED,
            target,
            member_actor(principal),
            feedback=note or None,
            idempotency_key=idem.key if idem else None,
            partial_minor=amount_minor,
        )
        async with unit_of_work() as work:
            await recorder.claim()
            # The dispute is settled first, so what follows the review sees it resolved.
            await Dispute.filter(submission_id=submission.id, status=DisputeStatus.OPEN).update(
                status=resolution,
                resolution_note=note,
                paid_minor=_paid(decision, submission.reward_minor),
                resolved_by_id=principal.member_id,
                resolved_at=clock.now(),
            )
            if not await review(work, principal.account_id, [submission.id], decision):
                raise changed_meanwhile()
            await recorder.complete({"submission_id": submission.id})
        return await Submission.get(id=submission.id)

    return await once(idem, body, lambda stored: Submission.get(id=stored["submission_id"]))


# --- bulk review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    index: int
    submission_id: int | None
    ok: bool
    error: FieldError | None = None

    def to_json(self) -> dict[str, Any]:
        error = self.error
        return {
            "index": self.index,
            "submission_id": self.submission_id,
            "ok": self.ok,
            "error": None
            if error is None
            else {"code": error.code.value, "message": error.message, "field": list(error.field)},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemResult:
        raw = data["error"]
        error = (
            None
            if raw is None
            else FieldError(ErrorCode(raw["code"]), raw["message"], tuple(raw["field"]))
        )
        return cls(data["index"], data["submission_id"], data["ok"], error)


async def _explain_failures(
    account_id: int, wanted: set[int], taken: set[int]
) -> dict[int, FieldError]:
    missing = wanted - taken
    states = (
        dict(
            await Submission.filter(account_id=account_id, id__in=list(missing)).values_list(
                "id", "state"
            )
        )
        if missing
        else {}
    )
    reasons = {}
    for pk in missing:
        if pk not in states:
            reasons[pk] = FieldError(ErrorCode.NOT_FOUND, "Submission not found.")
        else:
            reasons[pk] = FieldError(
                ErrorCode.INVALID_STATE, f"A submission that is {states[pk]} cannot be reviewed."
            )
    return reasons


def _results(submission_ids: list[int | None], failures: dict[int, FieldError]) -> list[ItemResult]:
    results = []
    seen: set[int] = set()
    for index, pk in enumerate(submission_ids):
        path = ("submission_ids", index)
        if pk is None:
            error = FieldError(ErrorCode.NOT_FOUND, "Submission not found.", path)
        elif pk in seen:
            error = FieldError(
                ErrorCode.DUPLICATE, "This submission is listed more than once.", path
            )
        elif pk in failures:
            error = FieldError(failures[pk].code, failures[pk].message, path)
        else:
            error = None
        if pk is not None:
            seen.add(pk)
        results.append(ItemResult(index, pk, error is None, error))
    return results


async def bulk_review(
    principal: MemberPrincipal,
    submission_ids: list[int | None],
    decision: ReviewDecision,
    feedback: str | None,
    idempotency_key: str | None = None,
) -> list[ItemResult]:
    """Approve or reject up to MAX_BULK_ITEMS submissions in one transaction; every id gets a
    result in input order, and one that cannot be reviewed never holds the others back."""
    idem = IdempotencyKey.of(
        principal,
        idempotency_key,
        "bulk_review",
        {"submission_ids": submission_ids, "decision": decision.value, "feedback": feedback},
    )
    if decision == ReviewDecision.REVISION_REQUESTED:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Bulk review approves or rejects.", "decision"
        )
    if not 1 <= len(submission_ids) <= MAX_BULK_ITEMS:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"Send 1 to {MAX_BULK_ITEMS} submission ids.",
            "submission_ids",
        )
    text = (feedback or "").strip() or None
    if decision == ReviewDecision.REJECTED and text is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "A rejection needs feedback for the worker.", "feedback"
        )
    target = S.APPROVED if decision == ReviewDecision.APPROVED else S.REJECTED
    change = Decision(
        S.SUBMITTED,
        target,
        member_actor(principal),
        feedback=text,
        idempotency_key=idem.key if idem else None,
        figures=FiguresChange.BULK_REVIEWED,
    )

    async def body(recorder: Recorder) -> list[ItemResult]:
        seen: Counter[int] = Counter()
        wanted: list[int] = []
        for pk in submission_ids:
            if pk is not None:
                seen[pk] += 1
                if seen[pk] == 1:
                    wanted.append(pk)
        async with unit_of_work() as work:
            await recorder.claim()
            moved = await review(work, principal.account_id, wanted, change)
            failures = await _explain_failures(principal.account_id, set(wanted), set(moved))
            results = _results(submission_ids, failures)
            await recorder.complete({"items": [r.to_json() for r in results]})
        return results

    async def replay(stored: dict[str, Any]) -> list[ItemResult]:
        return [ItemResult.from_json(item) for item in stored["items"]]

    return await once(idem, body, replay)


# --- without a person --------------------------------------------------------------------


class AutomaticAcceptance(Handler):
    """A submission to an AUTOMATIC task is approved as it arrives, once the rules had
    their say (automation may decline spam first, so it is not paid)."""

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        if not isinstance(event, SubmissionSubmitted):
            return
        task = await Task.get(id=event.task_id)
        if task.acceptance_mode == AcceptanceMode.AUTOMATIC:
            decision = Decision(S.SUBMITTED, S.APPROVED, ledger.SYSTEM)
            await review(work, event.account_id, [event.submission_id], decision)


async def auto_approve_due(limit: int = 500) -> int:
    """Sweep: SUBMITTED and unreviewed past the task's auto-approval delay -> APPROVED.

    The longest waiting first, so nothing due waits behind a full page forever.
    """
    now = clock.now()
    due = (
        await Submission.filter(state=S.SUBMITTED, auto_approve_at__lte=now)
        .order_by("auto_approve_at", "id")
        .limit(limit)
        .values_list("id", "account_id")
    )
    decision = Decision(S.SUBMITTED, S.APPROVED, ledger.SYSTEM)
    approved = 0
    for submission_id, account_id in due:
        try:
            async with unit_of_work() as work:
                # Reviewed by a person meanwhile: nothing moves.
                approved += len(await review(work, account_id, [submission_id], decision))
        except UseCaseError as error:
            # One that cannot be approved now must not hold up the others behind it.
            logger.warning("auto-approval of submission %s failed: %s", submission_id, error)
    return approved
