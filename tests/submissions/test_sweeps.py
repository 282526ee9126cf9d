"""Automatic closure, expiry and auto-approval, driven with a frozen clock.

The sweeps look at every account; these tests therefore check their own task and
submissions, not the number a sweep reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from gql_server.clock import FrozenClock
from gql_server.models import LedgerEntry, Review, Submission, Task
from gql_server.models.enums import (
    ActorKind,
    CloseReason,
    LedgerReason,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.services.errors import ErrorCode
from gql_server.services.submissions import (
    approve_submission,
    auto_approve_due,
    expire_started,
    reject_submission,
    request_revision,
    start_submission,
    submit_submission,
)
from gql_server.services.task_lifecycle import close_expired_tasks, close_task
from tests.factories import (
    answer,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    frozen_clock,
    new_requester,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState
FUNDED = 10_000


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    with frozen_clock() as clock:
        yield clock


async def _submitted(task: Task) -> Submission:
    worker = await new_worker()
    started = await start_submission(worker, task.id)
    return await submit_submission(worker, started.id, answer())


async def _task(task_id: int) -> Task:
    return await Task.get(id=task_id)


async def test_closes_when_the_budget_cannot_fund_another_reward(frozen: FrozenClock) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    # Funds exactly two rewards, with 0.50 over that no reward can use.
    task = await new_task(requester, reward="1.00", budget="2.50")
    assert await balance(requester.account_id) == FUNDED - 250
    first, second = await _submitted(task), await _submitted(task)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INSUFFICIENT_FUNDS,
        start_submission(await new_worker(), task.id),
    )
    assert await figures(task.id) == (250, 200, 0, 50)

    await approve_submission(requester.principal, first.id)
    # A reward is still committed: the second one may be paid, so the task stays open.
    assert (await _task(task.id)).status == TaskStatus.OPEN
    assert await figures(task.id) == (250, 100, 100, 50)
    await assert_ledger_consistent(requester.account_id)

    await approve_submission(requester.principal, second.id)
    closed = await _task(task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.BUDGET_EXHAUSTED)
    assert closed.closed_at == frozen.now()
    # The unspent 0.50 went back to the account at once.
    assert await figures(task.id) == (200, 0, 200, 0)
    assert await balance(requester.account_id) == FUNDED - 200
    returned = await LedgerEntry.filter(task_id=task.id, reason=LedgerReason.RETURN)
    assert [(r.amount_minor, r.actor_kind) for r in returned] == [(50, ActorKind.SYSTEM)]
    await assert_ledger_consistent(requester.account_id)


async def test_a_budget_of_one_reward_closes_once_it_is_paid() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="1.00")
    submission = await _submitted(task)
    await approve_submission(requester.principal, submission.id)
    closed = await _task(task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.BUDGET_EXHAUSTED)
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)


async def test_closes_when_max_submissions_are_approved(frozen: FrozenClock) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="5.00", max_submissions=1)
    submission = await _submitted(task)
    assert (await _task(task.id)).status == TaskStatus.OPEN
    await approve_submission(requester.principal, submission.id)
    closed = await _task(task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.MAX_SUBMISSIONS)
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)


async def test_a_rejection_does_not_count_towards_max_submissions() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="5.00", max_submissions=1)
    submission = await _submitted(task)
    await reject_submission(requester.principal, submission.id, "No.")
    assert (await _task(task.id)).status == TaskStatus.OPEN
    assert await figures(task.id) == (500, 0, 0, 500)
    await assert_ledger_consistent(requester.account_id)


async def test_closes_when_it_expires(frozen: FrozenClock) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(
        requester, reward="1.00", budget="5.00", expires_at=frozen.now() + timedelta(hours=1)
    )
    pending = await _submitted(task)
    assert await balance(requester.account_id) == FUNDED - 500

    frozen.advance(timedelta(minutes=59))
    await close_expired_tasks()
    assert (await _task(task.id)).status == TaskStatus.OPEN

    frozen.advance(timedelta(hours=1, minutes=1))
    assert await close_expired_tasks() >= 1
    closed = await _task(task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.EXPIRED)
    # What nobody holds went back; the pending submission's reward stays committed.
    assert await figures(task.id) == (100, 100, 0, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        start_submission(await new_worker(), task.id),
    )

    await approve_submission(requester.principal, pending.id)
    assert await figures(task.id) == (100, 0, 100, 0)
    # A second sweep finds nothing more to do with it.
    await close_expired_tasks()
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)


async def test_a_started_submission_past_its_time_limit_expires(frozen: FrozenClock) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(
        requester, reward="1.00", budget="2.00", max_submissions=1, time_limit_seconds=300
    )
    worker = await new_worker()
    started = await start_submission(worker, task.id)
    # The only slot is taken.
    await expect_unchanged(
        requester.account_id, ErrorCode.LIMIT_REACHED, start_submission(await new_worker(), task.id)
    )

    frozen.advance(timedelta(seconds=300))
    await expire_started()  # at the deadline it still counts as in time
    assert (await Submission.get(id=started.id)).state == S.STARTED

    frozen.advance(timedelta(seconds=1))
    assert await expire_started() >= 1
    assert (await Submission.get(id=started.id)).state == S.EXPIRED
    task_now = await _task(task.id)
    assert (task_now.status, task_now.slots_taken) == (TaskStatus.OPEN, 0)
    assert await figures(task.id) == (200, 0, 0, 200)
    await assert_ledger_consistent(requester.account_id)
    released = await LedgerEntry.filter(submission_id=started.id, reason=LedgerReason.RELEASE)
    assert [(r.amount_minor, r.actor_kind) for r in released] == [(100, ActorKind.SYSTEM)]

    # The slot and the reward are free for someone else.
    again = await start_submission(await new_worker(), task.id)
    assert again.state == S.STARTED
    assert await figures(task.id) == (200, 100, 0, 100)
    await assert_ledger_consistent(requester.account_id)


async def test_expiry_on_a_closed_task_returns_the_reward_to_the_account(
    frozen: FrozenClock,
) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="3.00", time_limit_seconds=60)
    started = await start_submission(await new_worker(), task.id)
    await close_task(requester.principal, task.id)
    assert await figures(task.id) == (100, 100, 0, 0)
    assert await balance(requester.account_id) == FUNDED - 100

    frozen.advance(timedelta(minutes=2))
    await expire_started()
    assert (await Submission.get(id=started.id)).state == S.EXPIRED
    assert await figures(task.id) == (0, 0, 0, 0)
    assert await balance(requester.account_id) == FUNDED
    await assert_ledger_consistent(requester.account_id)


async def test_auto_approval_after_the_delay(frozen: FrozenClock) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="5.00", auto_approval_delay_seconds=3600)
    submission = await _submitted(task)
    assert submission.auto_approve_at == frozen.now() + timedelta(hours=1)

    frozen.advance(timedelta(minutes=59))
    await auto_approve_due()
    assert (await Submission.get(id=submission.id)).state == S.SUBMITTED
    assert await figures(task.id) == (500, 100, 0, 400)

    frozen.advance(timedelta(minutes=1, seconds=1))
    assert await auto_approve_due() >= 1
    approved = await Submission.get(id=submission.id)
    assert (approved.state, approved.paid_minor, approved.auto_approve_at) == (
        S.APPROVED,
        100,
        None,
    )
    review = await Review.get(submission_id=submission.id)
    assert (review.decision, review.actor_kind, review.member_id) == (
        ReviewDecision.APPROVED,
        ActorKind.SYSTEM,
        None,
    )
    assert await figures(task.id) == (500, 0, 100, 400)
    await assert_ledger_consistent(requester.account_id)

    # Approved once: a later sweep or a person cannot pay it again.
    frozen.advance(timedelta(hours=1))
    await auto_approve_due()
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        approve_submission(requester.principal, submission.id),
    )
    assert (
        await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY).count() == 1
    )


async def test_a_person_reviewing_first_stops_auto_approval(frozen: FrozenClock) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="5.00", auto_approval_delay_seconds=3600)
    submission = await _submitted(task)
    await reject_submission(requester.principal, submission.id, "No.")
    frozen.advance(timedelta(hours=2))
    await auto_approve_due()
    rejected = await Submission.get(id=submission.id)
    assert (rejected.state, rejected.paid_minor) == (S.REJECTED, 0)
    assert await figures(task.id) == (500, 0, 0, 500)
    await assert_ledger_consistent(requester.account_id)


async def test_reviews_of_pending_submissions_go_on_after_a_manual_close() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="5.00")
    to_approve, to_reject = await _submitted(task), await _submitted(task)
    closed = await close_task(requester.principal, task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.MANUAL)
    assert await figures(task.id) == (200, 200, 0, 0)
    assert await balance(requester.account_id) == FUNDED - 200
    await assert_ledger_consistent(requester.account_id)

    # Approval pays from what is committed; nothing comes from the account.
    approved = await approve_submission(requester.principal, to_approve.id)
    assert (approved.state, approved.paid_minor) == (S.APPROVED, 100)
    assert await figures(task.id) == (200, 100, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 200
    await assert_ledger_consistent(requester.account_id)

    # Rejection releases the reward, and the closed task hands it on to the account.
    rejected = await reject_submission(requester.principal, to_reject.id, "No.")
    assert rejected.state == S.REJECTED
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)
    task_now = await _task(task.id)
    assert (task_now.status, task_now.close_reason) == (TaskStatus.CLOSED, CloseReason.MANUAL)


async def test_a_revision_not_sent_back_in_time_expires_and_frees_its_reward(
    frozen: FrozenClock,
) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="1.00", time_limit_seconds=600)
    submission = await _submitted(task)
    await request_revision(requester.principal, submission.id, "Please add the screenshot.")
    assert await figures(task.id) == (100, 100, 0, 0)

    # The sweep sees every account's work: look at this submission, not at the count.
    frozen.advance(timedelta(seconds=599))
    await expire_started()
    assert (await Submission.get(id=submission.id)).state == SubmissionState.REVISION_REQUESTED
    frozen.advance(timedelta(seconds=2))
    await expire_started()
    assert (await Submission.get(id=submission.id)).state == SubmissionState.EXPIRED
    # The abandoned reward is released and its slot reopens for someone else.
    assert (await _task(task.id)).status == TaskStatus.OPEN
    assert await figures(task.id) == (100, 0, 0, 100)
    await start_submission(await new_worker(), task.id)
    assert await figures(task.id) == (100, 100, 0, 0)
    await assert_ledger_consistent(requester.account_id)
