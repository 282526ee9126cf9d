"""Approve or reject thousands of submissions at once, with set-based SQL.

One transaction: a single UPDATE ... RETURNING per chunk takes exactly the submissions
that are still SUBMITTED; the ledger gets one guarded update per task and one bulk
insert. An item that cannot be reviewed is reported with its reason and never holds the
others back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import F

from gql_server import clock
from gql_server.models import Review, Submission, Task
from gql_server.models.enums import (
    ActorKind,
    LedgerReason,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.rules.vocabulary import Event
from gql_server.services import ledger, outbox, rule_engine, slots, streams
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError
from gql_server.services.events import UnitOfWork, unit_of_work
from gql_server.services.idempotency import IdempotencyKey, Recorder, once
from gql_server.services.principals import MemberPrincipal
from gql_server.services.task_lifecycle import close_if_done

MAX_ITEMS = 10_000
_CHUNK = 2_000


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


async def _take_submitted(
    account_id: int, ids: list[int], decision: ReviewDecision, feedback: str | None
) -> list[dict[str, Any]]:
    """Move the still-SUBMITTED ones among `ids` to the decision's state; return what moved."""
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    now = clock.now()
    state = (
        SubmissionState.APPROVED
        if decision == ReviewDecision.APPROVED
        else SubmissionState.REJECTED
    )
    taken: list[dict[str, Any]] = []
    paid = "reward_minor" if state == SubmissionState.APPROVED else "paid_minor"
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        values = [
            state.value,
            now,
            feedback,
            now,
            account_id,
            SubmissionState.SUBMITTED.value,
            *chunk,
        ]
        marks = [f"${n}" if postgres else "?" for n in range(1, len(values) + 1)]
        sql = (
            f'UPDATE "submission" SET "state" = {marks[0]}, "reviewed_at" = {marks[1]}, '
            f'"feedback" = COALESCE({marks[2]}, "feedback"), "updated_at" = {marks[3]}, '
            f'"paid_minor" = {paid}, "auto_approve_at" = NULL, "version" = "version" + 1 '
            f'WHERE "account_id" = {marks[4]} AND "state" = {marks[5]} '
            f'AND "id" IN ({", ".join(marks[6:])}) '
            'RETURNING "id", "task_id", "worker_id", "reward_minor"'
        )
        taken.extend(await connection.execute_query_dict(sql, values))
    return taken


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


async def bulk_review(
    principal: MemberPrincipal,
    submission_ids: list[int | None],
    decision: ReviewDecision,
    feedback: str | None,
    idem: IdempotencyKey | None = None,
) -> list[ItemResult]:
    if decision == ReviewDecision.REVISION_REQUESTED:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Bulk review approves or rejects.", "decision"
        )
    if not 1 <= len(submission_ids) <= MAX_ITEMS:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"Send 1 to {MAX_ITEMS} submission ids.", "submission_ids"
        )
    text = (feedback or "").strip() or None
    if decision == ReviewDecision.REJECTED and text is None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "A rejection needs feedback for the worker.", "feedback"
        )

    async def body(recorder: Recorder) -> list[ItemResult]:
        seen: Counter[int] = Counter()
        wanted: list[int] = []
        for pk in submission_ids:
            if pk is not None:
                seen[pk] += 1
                if seen[pk] == 1:
                    wanted.append(pk)
        actor = ledger.Actor(ActorKind.MEMBER, principal.member_id)
        async with unit_of_work() as work:
            await recorder.claim()
            rows = await _take_submitted(principal.account_id, wanted, decision, text)
            now = clock.now()
            await Review.bulk_create(
                [
                    Review(
                        submission_id=row["id"],
                        decision=decision,
                        feedback=text,
                        actor_kind=ActorKind.MEMBER,
                        member_id=principal.member_id,
                        created_at=now,
                    )
                    for row in rows
                ],
                batch_size=1000,
            )
            items = [
                ledger.BulkItem(
                    principal.account_id,
                    row["task_id"],
                    row["id"],
                    row["worker_id"],
                    row["reward_minor"],
                )
                for row in rows
            ]
            key = idem.key if idem else None
            task_ids = sorted({row["task_id"] for row in rows})
            if decision == ReviewDecision.APPROVED:
                await ledger.move_many(LedgerReason.PAY, items, actor, key)
                for task_id, count in Counter(row["task_id"] for row in rows).items():
                    await Task.filter(id=task_id).update(approved_count=F("approved_count") + count)
            else:
                await ledger.move_many(LedgerReason.RELEASE, items, actor, key)
                tasks = {t.id: t for t in await Task.filter(id__in=task_ids)}
                closed = [i for i in items if tasks[i.task_id].status == TaskStatus.CLOSED]
                if closed:
                    await ledger.move_many(LedgerReason.RETURN, closed, actor, key)
                await slots.release_slots(
                    [i.submission_id for i in items if tasks[i.task_id].reopen_rejected_slots]
                )
            await outbox.enqueue_submission_events(
                outbox.SUBMISSION_REVIEWED, [row["id"] for row in rows]
            )
            for task_id in task_ids:
                task = await streams.emit_figures(work, task_id, "bulk_reviewed")
                for row in rows:
                    if row["task_id"] == task_id:
                        streams.emit_queue(work, task, row["id"], "removed")
                await close_if_done(work, task_id)
            await _run_rules(work, rows, decision)
            failures = await _explain_failures(
                principal.account_id, set(wanted), {row["id"] for row in rows}
            )
            results = _results(submission_ids, failures)
            await recorder.complete({"items": [r.to_json() for r in results]})
        return results

    async def replay(stored: dict[str, Any]) -> list[ItemResult]:
        return [ItemResult.from_json(item) for item in stored["items"]]

    return await once(idem, body, replay)


async def _run_rules(
    work: UnitOfWork, rows: list[dict[str, Any]], decision: ReviewDecision
) -> None:
    """The rules of each task once, for all its workers reviewed here (with their reviewed
    submissions), over the history as it is after the whole bulk review."""
    events = (
        (Event.REVIEW, Event.PAYMENT) if decision == ReviewDecision.APPROVED else (Event.REVIEW,)
    )
    by_task: dict[int, dict[int, list[int]]] = {}
    for row in rows:
        by_task.setdefault(row["task_id"], {}).setdefault(row["worker_id"], []).append(row["id"])
    for task_id, workers in sorted(by_task.items()):
        await rule_engine.run_rules(work, events, task_id, workers)


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
