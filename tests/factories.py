"""Helpers of the service-level tests: parties, funded tasks, and the money invariants.

The tests call the services directly with principals built from created accounts and
workers, the way the resolvers do after authentication.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from gql_server import clock
from gql_server.models import (
    Account,
    ApiKey,
    Dispute,
    IdempotencyRecord,
    LedgerEntry,
    Project,
    Review,
    Submission,
    Task,
    TaskDayCounter,
    TaskWorkerCounter,
)
from gql_server.models.enums import ProofKind
from gql_server.services import accounts, ledger
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.task_lifecycle import publish_task
from gql_server.services.tasks import ProofRequirementDraft, TaskDraft, create_task

T = TypeVar("T")


@dataclass(frozen=True)
class Requester:
    """An account with its owner as the acting member and one project."""

    account_id: int
    principal: MemberPrincipal
    project_id: int


async def new_requester(*, fund_minor: int = 100_000, timezone: str = "UTC") -> Requester:
    created = await accounts.create_account(
        name=f"Account {uuid.uuid4().hex[:8]}",
        owner_name="Owner",
        owner_email=f"{uuid.uuid4().hex}@example.test",
        timezone=timezone,
    )
    owner = created.owner
    key = await ApiKey.get(member_id=owner.id)
    principal = MemberPrincipal(owner.id, created.account.id, owner.role, key.id)
    project = await Project.create(account_id=created.account.id, name="Project")
    if fund_minor:
        await accounts.fund_account(created.account.id, owner.id, fund_minor)
    return Requester(created.account.id, principal, project.id)


async def new_worker(country: str = "DE") -> WorkerPrincipal:
    credential = await accounts.register_worker(
        name=f"Worker {uuid.uuid4().hex[:6]}", country=country
    )
    key = await ApiKey.get(worker_id=credential.id)
    return WorkerPrincipal(credential.id, key.id)


def draft(**changes: Any) -> TaskDraft:
    values: dict[str, Any] = {
        "title": "Label the picture",
        "instructions": "Say what the picture shows.",
        "reward": "1.00",
        "budget": "10.00",
        "time_limit_seconds": 600,
        "proof_requirements": [ProofRequirementDraft("answer", ProofKind.TEXT)],
    }
    values.update(changes)
    return TaskDraft(**values)


async def new_task(requester: Requester, *, publish: bool = True, **changes: Any) -> Task:
    """A task with one required text proof named "answer"; published (funded) by default."""
    task = await create_task(requester.principal, requester.project_id, draft(**changes))
    if publish:
        task = await publish_task(requester.principal, task.id)
    return task


def answer(text: str = "a cat") -> dict[str, str]:
    return {"answer": text}


async def figures(task_id: int) -> tuple[int, int, int, int]:
    """(budget, committed, spent, remaining) of the task's columns."""
    task = await Task.get(id=task_id)
    return task.budget_minor, task.committed_minor, task.spent_minor, task.remaining_minor


async def balance(account_id: int) -> int:
    return (await Account.get(id=account_id)).balance_minor


async def assert_ledger_consistent(account_id: int) -> None:
    """Every figure column equals its ledger sum; no bucket is negative; budgets add up."""
    account = await Account.get(id=account_id)
    assert account.balance_minor >= 0
    assert account.balance_minor == await ledger.account_balance_from_ledger(account_id)
    for task in await Task.filter(account_id=account_id):
        from_ledger = await ledger.task_figures_from_ledger(task.id)
        columns = (task.budget_minor, task.committed_minor, task.spent_minor, task.remaining_minor)
        assert columns == (
            from_ledger.budget_minor,
            from_ledger.committed_minor,
            from_ledger.spent_minor,
            from_ledger.remaining_minor,
        ), f"task {task.id}: columns {columns} differ from the ledger {from_ledger}"
        assert min(columns) >= 0, f"task {task.id}: a negative bucket {columns}"
        assert task.budget_minor == task.committed_minor + task.spent_minor + task.remaining_minor


async def expect_error(code: ErrorCode, call: Awaitable[Any]) -> UseCaseError:
    """Await `call`, which must fail with exactly one error of `code`."""
    with pytest.raises(UseCaseError) as raised:
        await call
    codes = [e.code for e in raised.value.errors]
    assert codes == [code], raised.value.errors
    return raised.value


async def snapshot(account_id: int) -> dict[str, Any]:
    """Everything a use case on the account could change, for 'changed nothing' checks."""
    tasks = await Task.filter(account_id=account_id).order_by("id")
    task_ids = [t.id for t in tasks]
    submissions = await Submission.filter(account_id=account_id).order_by("id")
    submission_ids = [s.id for s in submissions]
    return {
        "balance": await balance(account_id),
        "tasks": [
            (
                t.id,
                t.status,
                t.close_reason,
                t.budget_minor,
                t.committed_minor,
                t.spent_minor,
                t.remaining_minor,
                t.requested_budget_minor,
                t.slots_taken,
                t.approved_count,
                t.version,
            )
            for t in tasks
        ],
        "submissions": [
            (
                s.id,
                s.state,
                s.paid_minor,
                s.version,
                s.response,
                s.prior_responses,
                s.feedback,
                s.revision_count,
                s.slot_released,
            )
            for s in submissions
        ],
        "ledger": await LedgerEntry.filter(account_id=account_id).count(),
        "reviews": await Review.filter(submission_id__in=submission_ids).count()
        if submission_ids
        else 0,
        "disputes": sorted(
            await Dispute.filter(submission_id__in=submission_ids).values_list("id", "status")
        )
        if submission_ids
        else [],
        "worker_counters": sorted(
            await TaskWorkerCounter.filter(task_id__in=task_ids).values_list(
                "task_id", "worker_id", "slots_taken"
            )
        )
        if task_ids
        else [],
        "day_counters": sorted(
            await TaskDayCounter.filter(task_id__in=task_ids).values_list("task_id", "started")
        )
        if task_ids
        else [],
        "idempotency_records": await IdempotencyRecord.all().count(),
    }


async def expect_unchanged(account_id: int, code: ErrorCode, call: Awaitable[Any]) -> UseCaseError:
    """`call` fails with `code` and changes nothing on the account."""
    before = await snapshot(account_id)
    error = await expect_error(code, call)
    assert await snapshot(account_id) == before
    await assert_ledger_consistent(account_id)
    return error


@contextmanager
def frozen_clock(start: datetime | None = None) -> Iterator[clock.FrozenClock]:
    """Install a FrozenClock (by default at the real now) and restore the previous clock."""
    frozen = clock.FrozenClock(start or datetime.now(UTC).replace(microsecond=0))
    previous = clock.set_clock(frozen)
    try:
        yield frozen
    finally:
        clock.set_clock(previous)
