"""Money under concurrent use cases, on PostgreSQL (SQLite has a single connection).

Each coroutine of asyncio.gather runs its use case on its own pooled connection, so these
races are real: the conditional updates, not the event loop, keep the money right.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import pytest

from gql_server.models import LedgerEntry, Submission, Task
from gql_server.models.enums import CloseReason, LedgerReason, SubmissionState, TaskStatus
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.review import approve_submission, reject_submission
from gql_server.services.submissions import start_submission, submit_submission
from tests.factories import (
    answer,
    assert_ledger_consistent,
    balance,
    figures,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="concurrency needs PostgreSQL: SQLite serves one connection",
    ),
    pytest.mark.usefixtures("database"),
]

S = SubmissionState


async def _outcomes(calls: list[Any]) -> tuple[list[Any], Counter[ErrorCode]]:
    """Run the coroutines at once: what succeeded, and how many failed with each code.

    Anything but a UseCaseError propagates and fails the test.
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    successes, failures = [], Counter[ErrorCode]()
    for result in results:
        if isinstance(result, UseCaseError):
            failures.update(e.code for e in result.errors)
        elif isinstance(result, BaseException):
            raise result
        else:
            successes.append(result)
    return successes, failures


async def test_many_workers_race_for_a_budget_of_fifty_rewards() -> None:
    requester = await new_requester(fund_minor=100_000)
    task = await new_task(requester, reward="0.50", budget="25.00")
    workers = [await new_worker() for _ in range(200)]

    started, failures = await _outcomes([start_submission(w.principal, task.id) for w in workers])
    assert len(started) == 50
    assert sum(failures.values()) == 150
    assert set(failures) <= {ErrorCode.INSUFFICIENT_FUNDS, ErrorCode.LIMIT_REACHED}, failures
    assert await figures(task.id) == (2500, 2500, 0, 0)
    assert (await Task.get(id=task.id)).slots_taken == 50
    assert await Submission.filter(task_id=task.id).count() == 50
    assert len({s.worker_id for s in started}) == 50
    await assert_ledger_consistent(requester.account_id)

    by_worker = {w.id: w for w in workers}
    submitted, failures = await _outcomes(
        [submit_submission(by_worker[s.worker_id].principal, s.id, answer()) for s in started]
    )
    assert (len(submitted), failures) == (50, Counter())
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN

    approved, failures = await _outcomes(
        [approve_submission(requester.principal, s.id) for s in submitted]
    )
    assert (len(approved), failures) == (50, Counter())
    closed = await Task.get(id=task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.BUDGET_EXHAUSTED)
    assert closed.approved_count == 50
    assert await figures(task.id) == (2500, 0, 2500, 0)
    assert await balance(requester.account_id) == 100_000 - 2500
    assert await LedgerEntry.filter(task_id=task.id, reason=LedgerReason.PAY).count() == 50
    await assert_ledger_consistent(requester.account_id)


async def test_a_limited_task_admits_exactly_its_slots() -> None:
    requester = await new_requester(fund_minor=100_000)
    task = await new_task(requester, reward="0.50", budget="50.00", max_submissions=30)
    workers = [await new_worker() for _ in range(100)]
    started, failures = await _outcomes([start_submission(w.principal, task.id) for w in workers])
    assert (len(started), failures) == (30, Counter({ErrorCode.LIMIT_REACHED: 70}))
    assert await figures(task.id) == (5000, 1500, 0, 3500)
    assert (await Task.get(id=task.id)).slots_taken == 30
    await assert_ledger_consistent(requester.account_id)


async def test_two_concurrent_approvals_of_one_submission_pay_once() -> None:
    requester = await new_requester(fund_minor=100_000)
    task = await new_task(requester, reward="1.00", budget="10.00")
    worker = await new_worker()
    submission = await start_submission(worker.principal, task.id)
    await submit_submission(worker.principal, submission.id, answer())

    approved, failures = await _outcomes(
        [approve_submission(requester.principal, submission.id) for _ in range(2)]
    )
    assert len(approved) == 1 and approved[0].state == S.APPROVED
    assert failures == Counter({ErrorCode.INVALID_STATE: 1})
    assert (
        await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY).count() == 1
    )
    assert await figures(task.id) == (1000, 0, 100, 900)
    assert (await Task.get(id=task.id)).approved_count == 1
    await assert_ledger_consistent(requester.account_id)


async def test_concurrent_retries_with_one_idempotency_key_pay_once() -> None:
    requester = await new_requester(fund_minor=100_000)
    task = await new_task(requester, reward="1.00", budget="10.00")
    worker = await new_worker()
    submission = await start_submission(worker.principal, task.id)
    await submit_submission(worker.principal, submission.id, answer())
    member = requester.principal

    approved, failures = await _outcomes(
        [approve_submission(member, submission.id, "retry-me") for _ in range(5)]
    )
    assert failures == Counter()
    assert len(approved) == 5
    assert {(s.id, s.state, s.paid_minor) for s in approved} == {(submission.id, S.APPROVED, 100)}
    pays = await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY)
    assert [(p.amount_minor, p.idempotency_key) for p in pays] == [(100, "retry-me")]
    assert await figures(task.id) == (1000, 0, 100, 900)
    await assert_ledger_consistent(requester.account_id)


async def test_concurrent_approvals_and_rejections_of_one_task_keep_the_ledger() -> None:
    requester = await new_requester(fund_minor=100_000)
    task = await new_task(requester, reward="1.00", budget="40.00")
    submissions = []
    for _ in range(40):
        worker = await new_worker()
        started = await start_submission(worker.principal, task.id)
        submissions.append(await submit_submission(worker.principal, started.id, answer()))

    member = requester.principal
    calls = [
        approve_submission(member, s.id) if i % 2 else reject_submission(member, s.id, "No.")
        for i, s in enumerate(submissions)
    ]
    # Every rejection races a conflicting approval of the same submission.
    calls += [approve_submission(member, s.id) for s in submissions[::2]]
    done, failures = await _outcomes(calls)
    assert len(done) == 40 and failures == Counter({ErrorCode.INVALID_STATE: 20})
    states = Counter(s.state for s in await Submission.filter(task_id=task.id))
    paid = states[S.APPROVED]
    assert states[S.APPROVED] + states[S.REJECTED] == 40
    assert await figures(task.id) == (4000, 0, 100 * paid, 4000 - 100 * paid)
    await assert_ledger_consistent(requester.account_id)
