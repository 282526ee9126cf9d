"""The money ledger: every movement is one immutable row plus a guarded update of the figures.

The figure columns (account balance; task committed / spent / remaining, and budget as
their sum) are changed only here, by conditional updates that refuse to take a bucket
below zero. They therefore equal the sums of the ledger rows at every commit, on any
number of connections, without row locks (which SQLite would ignore anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import F
from tortoise.functions import Sum

from gql_server import clock
from gql_server.models import Account, LedgerEntry, Task
from gql_server.models.bulk import insert_rows
from gql_server.models.enums import ActorKind, LedgerBucket, LedgerReason
from gql_server.services.errors import ErrorCode, UseCaseError

_TASK_COLUMNS = {
    LedgerBucket.TASK_REMAINING: "remaining_minor",
    LedgerBucket.TASK_COMMITTED: "committed_minor",
    LedgerBucket.TASK_SPENT: "spent_minor",
}

# No balance goes beyond this (far below the 64-bit columns' limit, so sums stay exact).
MAX_BALANCE_MINOR = 10**17

# The movements the domain makes, and only those.
MOVEMENTS: dict[LedgerReason, tuple[LedgerBucket, LedgerBucket]] = {
    LedgerReason.FUND: (LedgerBucket.EXTERNAL, LedgerBucket.ACCOUNT_BALANCE),
    LedgerReason.ALLOCATE: (LedgerBucket.ACCOUNT_BALANCE, LedgerBucket.TASK_REMAINING),
    LedgerReason.TOP_UP: (LedgerBucket.ACCOUNT_BALANCE, LedgerBucket.TASK_REMAINING),
    LedgerReason.RETURN: (LedgerBucket.TASK_REMAINING, LedgerBucket.ACCOUNT_BALANCE),
    LedgerReason.COMMIT: (LedgerBucket.TASK_REMAINING, LedgerBucket.TASK_COMMITTED),
    LedgerReason.RELEASE: (LedgerBucket.TASK_COMMITTED, LedgerBucket.TASK_REMAINING),
    LedgerReason.PAY: (LedgerBucket.TASK_COMMITTED, LedgerBucket.TASK_SPENT),
    LedgerReason.BONUS: (LedgerBucket.TASK_REMAINING, LedgerBucket.TASK_SPENT),
    LedgerReason.PARTIAL_PAYMENT: (LedgerBucket.TASK_REMAINING, LedgerBucket.TASK_SPENT),
}


_LEDGER_COLUMNS = (
    *(("account_id", "bigint"), ("task_id", "bigint"), ("submission_id", "bigint")),
    *(("worker_id", "bigint"), ("from_bucket", "text"), ("to_bucket", "text")),
    *(("amount_minor", "bigint"), ("reason", "text"), ("actor_kind", "text")),
    *(("actor_member_id", "bigint"), ("idempotency_key", "text"), ("created_at", "timestamptz")),
)


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    member_id: int | None = None


SYSTEM = Actor(ActorKind.SYSTEM)


def _insufficient(bucket: LedgerBucket) -> UseCaseError:
    messages = {
        LedgerBucket.ACCOUNT_BALANCE: "The account balance cannot cover this amount.",
        LedgerBucket.TASK_REMAINING: "The task's remaining budget cannot cover this amount.",
        LedgerBucket.TASK_COMMITTED: "Not enough is committed on the task for this movement.",
    }
    return UseCaseError.single(
        ErrorCode.INSUFFICIENT_FUNDS, messages.get(bucket, "Insufficient funds.")
    )


async def move(
    *,
    reason: LedgerReason,
    amount_minor: int,
    account_id: int,
    actor: Actor,
    task_id: int | None = None,
    submission_id: int | None = None,
    worker_id: int | None = None,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Record one movement and apply it to the figures; call inside the use case's transaction."""
    if amount_minor <= 0:
        raise ValueError("ledger amounts are positive")
    source, target = MOVEMENTS[reason]
    touches_task = source in _TASK_COLUMNS or target in _TASK_COLUMNS
    if touches_task and task_id is None:
        raise ValueError(f"{reason} needs a task")

    if source == LedgerBucket.ACCOUNT_BALANCE:
        taken = await Account.filter(id=account_id, balance_minor__gte=amount_minor).update(
            balance_minor=F("balance_minor") - amount_minor
        )
        if not taken:
            raise _insufficient(source)
    elif target == LedgerBucket.ACCOUNT_BALANCE and not await Account.filter(
        id=account_id, balance_minor__lte=MAX_BALANCE_MINOR - amount_minor
    ).update(balance_minor=F("balance_minor") + amount_minor):
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"The balance would pass its cap of {MAX_BALANCE_MINOR} minor units.",
            "amount",
        )

    if touches_task:
        changes: dict[str, object] = {"version": F("version") + 1}
        guard: dict[str, object] = {"id": task_id, "account_id": account_id}
        if source in _TASK_COLUMNS:
            column = _TASK_COLUMNS[source]
            changes[column] = F(column) - amount_minor
            guard[f"{column}__gte"] = amount_minor
        if target in _TASK_COLUMNS:
            column = _TASK_COLUMNS[target]
            changes[column] = F(column) + amount_minor
        # Money entering or leaving the task changes its budget; moves inside it do not.
        if source == LedgerBucket.ACCOUNT_BALANCE:
            changes["budget_minor"] = F("budget_minor") + amount_minor
        elif target == LedgerBucket.ACCOUNT_BALANCE:
            changes["budget_minor"] = F("budget_minor") - amount_minor
        if reason == LedgerReason.TOP_UP:
            changes["topped_up_minor"] = F("topped_up_minor") + amount_minor
        if not await Task.filter(**guard).update(**changes):
            raise _insufficient(source)

    return await LedgerEntry.create(
        account_id=account_id,
        task_id=task_id,
        submission_id=submission_id,
        worker_id=worker_id,
        from_bucket=source,
        to_bucket=target,
        amount_minor=amount_minor,
        reason=reason,
        actor_kind=actor.kind,
        actor_member_id=actor.member_id,
        idempotency_key=idempotency_key,
    )


@dataclass(frozen=True)
class TaskLedgerFigures:
    budget_minor: int
    committed_minor: int
    spent_minor: int
    remaining_minor: int


async def _bucket_total(bucket: LedgerBucket, **scope: object) -> int:
    incoming = (
        await LedgerEntry.filter(to_bucket=bucket, **scope)
        .annotate(t=Sum("amount_minor"))
        .values_list("t", flat=True)
    )
    outgoing = (
        await LedgerEntry.filter(from_bucket=bucket, **scope)
        .annotate(t=Sum("amount_minor"))
        .values_list("t", flat=True)
    )
    return int(incoming[0] or 0) - int(outgoing[0] or 0)


async def task_figures_from_ledger(task_id: int) -> TaskLedgerFigures:
    """The task's figures summed from its ledger rows (what the columns must equal)."""
    committed = await _bucket_total(LedgerBucket.TASK_COMMITTED, task_id=task_id)
    spent = await _bucket_total(LedgerBucket.TASK_SPENT, task_id=task_id)
    remaining = await _bucket_total(LedgerBucket.TASK_REMAINING, task_id=task_id)
    return TaskLedgerFigures(committed + spent + remaining, committed, spent, remaining)


async def account_balance_from_ledger(account_id: int) -> int:
    return await _bucket_total(LedgerBucket.ACCOUNT_BALANCE, account_id=account_id)


@dataclass(frozen=True)
class BulkItem:
    """One movement of a set-based operation: the submission it concerns and its amount."""

    account_id: int
    task_id: int
    submission_id: int
    worker_id: int
    amount_minor: int


async def move_many(
    reason: LedgerReason,
    items: list[BulkItem],
    actor: Actor,
    idempotency_key: str | None = None,
    *,
    counted_in: str | None = None,
) -> None:
    """The same movement for many submissions: one guarded update per task, one insert.

    Only task-internal movements and returns to the account are allowed here; a task
    whose guard fails raises, rolling the whole operation back (it cannot happen for
    rewards that were committed, which is what bulk reviews move). `counted_in` names a
    counter column of the task that grows by the number of its items in the same update
    (the approvals a review counts), so that the task row is written once.
    """
    source, target = MOVEMENTS[reason]
    if source not in _TASK_COLUMNS:
        raise ValueError(f"{reason} cannot be applied in bulk")
    totals: dict[tuple[int, int], int] = {}
    counts: dict[tuple[int, int], int] = {}
    for item in items:
        scope = (item.account_id, item.task_id)
        totals[scope] = totals.get(scope, 0) + item.amount_minor
        counts[scope] = counts.get(scope, 0) + 1
    for (account_id, task_id), total in totals.items():
        column = _TASK_COLUMNS[source]
        changes: dict[str, object] = {column: F(column) - total, "version": F("version") + 1}
        if counted_in is not None:
            changes[counted_in] = F(counted_in) + counts[(account_id, task_id)]
        if target in _TASK_COLUMNS:
            changes[_TASK_COLUMNS[target]] = F(_TASK_COLUMNS[target]) + total
        else:
            changes["budget_minor"] = F("budget_minor") - total
            await Account.filter(id=account_id).update(balance_minor=F("balance_minor") + total)
        if not await Task.filter(id=task_id, **{f"{column}__gte": total}).update(**changes):
            raise _insufficient(source)
    now = clock.now()
    await insert_rows(
        "ledger_entry",
        _LEDGER_COLUMNS,
        [
            (
                *(item.account_id, item.task_id, item.submission_id, item.worker_id, source),
                *(target, item.amount_minor, reason, actor.kind, actor.member_id),
                *(idempotency_key, now),
            )
            for item in items
        ],
    )


async def release_rewards(
    items: list[BulkItem], task_closed: bool, actor: Actor, idempotency_key: str | None = None
) -> None:
    """Give committed rewards of one task back to its remaining budget, and on to the
    account if the task is closed (it has given its remaining back already)."""
    if not items:
        return
    await move_many(LedgerReason.RELEASE, items, actor, idempotency_key)
    if task_closed:
        await move_many(LedgerReason.RETURN, items, actor, idempotency_key)
