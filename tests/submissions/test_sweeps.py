"""The sweeps, driven with a frozen clock: tasks past their expiry close, work not sent in
time expires, and submitted work is approved after the task's auto-approval delay.

A sweep looks at every account's due rows and returns how many it changed, other tests'
rows included; so each test here checks the exact states of its own task and
submissions after a sweep, never the number the sweep returns.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from gql_server.clock import FrozenClock
from gql_server.models import LedgerEntry, Review, Submission, Task, TaskWorkerCounter
from gql_server.models.enums import (
    ActorKind,
    CloseReason,
    LedgerReason,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.services.errors import ErrorCode
from gql_server.services.review import (
    approve_submission,
    auto_approve_due,
    reject_submission,
    request_revision,
)
from gql_server.services.submissions import expire_started, start_submission, submit_submission
from gql_server.services.task_lifecycle import close_expired_tasks, close_task
from tests.factories import (
    FUNDED,
    Requester,
    answer,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    frozen_clock,
    new_requester,
    new_submitted,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState


async def test_closes_when_it_expires(frozen: FrozenClock, requester: Requester) -> None:
    task = await new_task(
        requester, reward="1.00", budget="5.00", expires_at=frozen.now() + timedelta(hours=1)
    )
    pending = await new_submitted(task)
    assert await balance(requester.account_id) == FUNDED - 500

    frozen.advance(timedelta(minutes=59))
    await close_expired_tasks()
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN

    frozen.advance(timedelta(hours=1, minutes=1))
    await close_expired_tasks()
    closed = await Task.get(id=task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.EXPIRED)
    assert (await Submission.get(id=pending.id)).state == S.SUBMITTED
    # What nobody holds went back; the pending submission's reward stays committed.
    assert await figures(task.id) == (100, 100, 0, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        start_submission((await new_worker()).principal, task.id),
    )

    await approve_submission(requester.principal, pending.id)
    assert await figures(task.id) == (100, 0, 100, 0)
    # A second sweep finds nothing more to do with it.
    await close_expired_tasks()
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)


async def test_a_started_submission_past_its_time_limit_expires(
    frozen: FrozenClock, requester: Requester
) -> None:
    task = await new_task(
        requester, reward="1.00", budget="2.00", max_submissions=1, time_limit_seconds=300
    )
    worker = await new_worker()
    started = await start_submission(worker.principal, task.id)
    # The only slot is taken.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.LIMIT_REACHED,
        start_submission((await new_worker()).principal, task.id),
    )

    frozen.advance(timedelta(seconds=300))
    await expire_started()  # at the deadline it still counts as in time
    assert (await Submission.get(id=started.id)).state == S.STARTED

    frozen.advance(timedelta(seconds=1))
    await expire_started()
    assert (await Submission.get(id=started.id)).state == S.EXPIRED
    task_now = await Task.get(id=task.id)
    assert (task_now.status, task_now.slots_taken) == (TaskStatus.OPEN, 0)
    assert await figures(task.id) == (200, 0, 0, 200)
    await assert_ledger_consistent(requester.account_id)
    released = await LedgerEntry.filter(submission_id=started.id, reason=LedgerReason.RELEASE)
    assert [(r.amount_minor, r.actor_kind) for r in released] == [(100, ActorKind.SYSTEM)]

    # The slot and the reward are free for someone else.
    again = await start_submission((await new_worker()).principal, task.id)
    assert again.state == S.STARTED
    assert await figures(task.id) == (200, 100, 0, 100)
    await assert_ledger_consistent(requester.account_id)


async def test_expiry_on_a_closed_task_returns_the_reward_to_the_account(
    frozen: FrozenClock, requester: Requester
) -> None:
    task = await new_task(requester, reward="1.00", budget="3.00", time_limit_seconds=60)
    started = await start_submission((await new_worker()).principal, task.id)
    await close_task(requester.principal, task.id)
    assert await figures(task.id) == (100, 100, 0, 0)
    assert await balance(requester.account_id) == FUNDED - 100

    frozen.advance(timedelta(minutes=2))
    await expire_started()
    assert (await Submission.get(id=started.id)).state == S.EXPIRED
    assert await figures(task.id) == (0, 0, 0, 0)
    assert await balance(requester.account_id) == FUNDED
    await assert_ledger_consistent(requester.account_id)


async def test_auto_approval_after_the_delay(frozen: FrozenClock, requester: Requester) -> None:
    task = await new_task(requester, reward="1.00", budget="5.00", auto_approval_delay_seconds=3600)
    submission = await new_submitted(task)
    assert submission.auto_approve_at == frozen.now() + timedelta(hours=1)

    frozen.advance(timedelta(minutes=59))
    await auto_approve_due()
    assert (await Submission.get(id=submission.id)).state == S.SUBMITTED
    assert await figures(task.id) == (500, 100, 0, 400)

    frozen.advance(timedelta(minutes=1, seconds=1))
    await auto_approve_due()
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


async def test_a_person_reviewing_first_stops_auto_approval(
    frozen: FrozenClock, requester: Requester
) -> None:
    task = await new_task(requester, reward="1.00", budget="5.00", auto_approval_delay_seconds=3600)
    submission = await new_submitted(task)
    await reject_submission(requester.principal, submission.id, "No.")
    frozen.advance(timedelta(hours=2))
    await auto_approve_due()
    rejected = await Submission.get(id=submission.id)
    assert (rejected.state, rejected.paid_minor) == (S.REJECTED, 0)
    assert await figures(task.id) == (500, 0, 0, 500)
    await assert_ledger_consistent(requester.account_id)


async def test_a_revision_not_sent_back_in_time_expires_and_frees_its_reward(
    frozen: FrozenClock, requester: Requester
) -> None:
    task = await new_task(requester, reward="1.00", budget="1.00", time_limit_seconds=600)
    submission = await new_submitted(task)
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
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN
    assert await figures(task.id) == (100, 0, 0, 100)
    await start_submission((await new_worker()).principal, task.id)
    assert await figures(task.id) == (100, 100, 0, 0)
    await assert_ledger_consistent(requester.account_id)


async def test_started_expires_after_its_time_limit() -> None:
    with frozen_clock() as frozen:
        requester = await new_requester(fund_minor=FUNDED)
        task = await new_task(requester, reward="1.00", budget="3.00", time_limit_seconds=600)
        worker = await new_worker()
        submission = await start_submission(worker.principal, task.id)
        assert await figures(task.id) == (300, 100, 0, 200)

        frozen.advance(timedelta(minutes=9))
        await expire_started()
        assert (await Submission.get(id=submission.id)).state == S.STARTED
        assert await figures(task.id) == (300, 100, 0, 200)

        frozen.advance(timedelta(minutes=2))
        await expire_started()
        expired = await Submission.get(id=submission.id)
        assert (expired.state, expired.paid_minor, expired.slot_released) == (S.EXPIRED, 0, True)
        assert await figures(task.id) == (300, 0, 0, 300)
        assert (await Task.get(id=task.id)).slots_taken == 0
        counter = await TaskWorkerCounter.get(task_id=task.id, worker_id=worker.id)
        assert counter.slots_taken == 0
        await assert_ledger_consistent(requester.account_id)

        # An expired submission is final, and the freed slot can be taken again.
        await expect_unchanged(
            requester.account_id,
            ErrorCode.INVALID_STATE,
            submit_submission(worker.principal, submission.id, answer()),
        )
        await start_submission(worker.principal, task.id)
        assert await figures(task.id) == (300, 100, 0, 200)
        await assert_ledger_consistent(requester.account_id)
