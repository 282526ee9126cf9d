"""Reviewing work: approval pays the committed reward, revisions keep the prior responses,
what cannot be reviewed, feedback, bonuses; after each step the figures equal the ledger."""

from __future__ import annotations

import pytest

from gql_server.models import LedgerEntry, Review, Submission, Task
from gql_server.models.enums import (
    ActorKind,
    DisputeStatus,
    LedgerReason,
    ReviewDecision,
    SubmissionState,
)
from gql_server.services.errors import ErrorCode
from gql_server.services.review import (
    approve_submission,
    pay_bonus,
    reject_submission,
    request_revision,
    resolve_dispute,
)
from gql_server.services.submissions import dispute_rejection, start_submission, submit_submission
from tests.factories import (
    FUNDED,
    Requester,
    Worker,
    answer,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    new_started,
    new_submitted,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState


# --- allowed transitions ------------------------------------------------------------------


async def test_started_submitted_approved_pays_the_committed_reward(requester: Requester) -> None:
    task = await new_task(requester, reward="1.50", budget="6.00")
    assert await figures(task.id) == (600, 0, 0, 600)
    assert await balance(requester.account_id) == FUNDED - 600
    await assert_ledger_consistent(requester.account_id)

    worker = await new_worker()
    submission = await start_submission(worker.principal, task.id)
    assert (submission.state, submission.reward_minor) == (S.STARTED, 150)
    assert await figures(task.id) == (600, 150, 0, 450)
    await assert_ledger_consistent(requester.account_id)

    submission = await submit_submission(worker.principal, submission.id, answer("  a cat "))
    assert submission.state == S.SUBMITTED
    assert submission.response == {"answer": "a cat"} and submission.submitted_at is not None
    assert await figures(task.id) == (600, 150, 0, 450)
    await assert_ledger_consistent(requester.account_id)

    submission = await approve_submission(requester.principal, submission.id)
    assert (submission.state, submission.paid_minor) == (S.APPROVED, 150)
    assert await figures(task.id) == (600, 0, 150, 450)
    assert await balance(requester.account_id) == FUNDED - 600
    assert (await Task.get(id=task.id)).approved_count == 1
    review = await Review.get(submission_id=submission.id)
    assert (review.decision, review.actor_kind, review.member_id) == (
        ReviewDecision.APPROVED,
        ActorKind.MEMBER,
        requester.principal.member_id,
    )
    await assert_ledger_consistent(requester.account_id)


async def test_revision_requested_then_submitted_again_keeps_the_prior_responses(
    requester: Requester,
) -> None:
    task = await new_task(requester, reward="1.00", budget="3.00")
    worker = await new_worker()
    submission = await new_submitted(task, worker, "a dog")

    revised = await request_revision(requester.principal, submission.id, "Look again.")
    assert (revised.state, revised.feedback, revised.revision_count) == (
        S.REVISION_REQUESTED,
        "Look again.",
        1,
    )
    assert await figures(task.id) == (300, 100, 0, 200)  # the reward stays committed
    await assert_ledger_consistent(requester.account_id)

    again = await submit_submission(worker.principal, submission.id, answer("a cat"))
    assert again.state == S.SUBMITTED
    assert again.response == {"answer": "a cat"}
    assert again.prior_responses == [{"answer": "a dog"}]
    assert await figures(task.id) == (300, 100, 0, 200)
    await assert_ledger_consistent(requester.account_id)

    await request_revision(requester.principal, submission.id, "Closer, but no.")
    third = await submit_submission(worker.principal, submission.id, answer("a tabby cat"))
    assert third.prior_responses == [{"answer": "a dog"}, {"answer": "a cat"}]
    assert third.revision_count == 2

    approved = await approve_submission(requester.principal, submission.id)
    assert (approved.state, approved.paid_minor) == (S.APPROVED, 100)
    assert await figures(task.id) == (300, 0, 100, 200)
    await assert_ledger_consistent(requester.account_id)


# --- refused transitions ------------------------------------------------------------------


async def test_approving_twice_is_invalid_state_and_pays_once(
    requester: Requester, task: Task
) -> None:
    submission = await new_submitted(task)
    await approve_submission(requester.principal, submission.id)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        approve_submission(requester.principal, submission.id),
    )
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        reject_submission(requester.principal, submission.id, "Changed my mind."),
    )
    assert (
        await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY).count() == 1
    )
    assert await figures(task.id) == (1000, 0, 100, 900)


async def test_a_started_submission_cannot_be_reviewed(requester: Requester, task: Task) -> None:
    submission = await new_started(task)
    member = requester.principal
    for call in (
        lambda: approve_submission(member, submission.id),
        lambda: reject_submission(member, submission.id, "No."),
        lambda: request_revision(member, submission.id, "Again."),
        lambda: resolve_dispute(member, submission.id, DisputeStatus.OVERTURNED),
        lambda: pay_bonus(member, submission.id, 50),
    ):
        await expect_unchanged(requester.account_id, ErrorCode.INVALID_STATE, call())
    assert (await Submission.get(id=submission.id)).state == S.STARTED


async def test_feedback_and_reasons_are_required(
    requester: Requester, task: Task, worker: Worker
) -> None:
    submission = await new_submitted(task, worker)
    for feedback in ("", "   \n "):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            reject_submission(requester.principal, submission.id, feedback),
        )
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            request_revision(requester.principal, submission.id, feedback),
        )
    await reject_submission(requester.principal, submission.id, "No.")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.VALIDATION,
        dispute_rejection(worker.principal, submission.id, "  "),
    )


async def test_a_bonus_needs_paid_work(requester: Requester) -> None:
    task = await new_task(requester, reward="1.00", budget="10.00")
    worker = await new_worker()
    submission = await new_submitted(task, worker)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        pay_bonus(requester.principal, submission.id, 50),
    )
    await reject_submission(requester.principal, submission.id, "No.")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        pay_bonus(requester.principal, submission.id, 50),
    )

    paid = await new_submitted(task)
    await approve_submission(requester.principal, paid.id)
    for amount in (0, -5):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            pay_bonus(requester.principal, paid.id, amount),
        )
    # More than the remaining budget of an open task.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INSUFFICIENT_FUNDS,
        pay_bonus(requester.principal, paid.id, 901),
    )
    bonused = await pay_bonus(requester.principal, paid.id, 50)
    assert bonused.paid_minor == 150
    assert await figures(task.id) == (1000, 0, 150, 850)
    await assert_ledger_consistent(requester.account_id)


# --- limits -------------------------------------------------------------------------------


# --- idempotency --------------------------------------------------------------------------


# --- bulk review --------------------------------------------------------------------------
