"""Disputes: a rejection disputed once, resolved once (overturned, upheld or paid in part),
and never more than the reward."""

from __future__ import annotations

import pytest

from gql_server.models import Dispute, Submission, Task
from gql_server.models.enums import DisputeStatus, SubmissionState
from gql_server.services.errors import ErrorCode
from gql_server.services.review import approve_submission, reject_submission, resolve_dispute
from gql_server.services.submissions import dispute_rejection
from tests.factories import (
    FUNDED,
    Requester,
    Worker,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    new_submitted,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState


@pytest.mark.parametrize(
    ("resolution", "amount", "state", "paid"),
    [
        (DisputeStatus.OVERTURNED, None, S.APPROVED, 150),
        (DisputeStatus.UPHELD, None, S.REJECTED, 0),
        (DisputeStatus.PARTIALLY_PAID, 60, S.PARTIALLY_PAID, 60),
    ],
)
async def test_rejected_disputed_and_resolved(
    resolution: DisputeStatus,
    amount: int | None,
    state: SubmissionState,
    paid: int,
    requester: Requester,
) -> None:
    task = await new_task(requester, reward="1.50", budget="6.00")
    worker = await new_worker()
    submission = await new_submitted(task, worker)

    rejected = await reject_submission(requester.principal, submission.id, "  Blurry.  ")
    assert (rejected.state, rejected.feedback, rejected.paid_minor) == (S.REJECTED, "Blurry.", 0)
    assert await figures(task.id) == (600, 0, 0, 600)
    await assert_ledger_consistent(requester.account_id)

    disputed = await dispute_rejection(worker.principal, submission.id, "It is a cat.")
    assert disputed.state == S.DISPUTED
    dispute = await Dispute.get(submission_id=submission.id)
    assert (dispute.status, dispute.reason) == (DisputeStatus.OPEN, "It is a cat.")
    assert await figures(task.id) == (600, 0, 0, 600)
    await assert_ledger_consistent(requester.account_id)

    resolved = await resolve_dispute(
        requester.principal, submission.id, resolution, "Looked again.", amount
    )
    assert (resolved.state, resolved.paid_minor) == (state, paid)
    dispute = await Dispute.get(submission_id=submission.id)
    assert (dispute.status, dispute.paid_minor, dispute.resolved_by_id) == (
        resolution,
        paid,
        requester.principal.member_id,
    )
    assert await figures(task.id) == (600, 0, paid, 600 - paid)
    assert await balance(requester.account_id) == FUNDED - 600
    expected_approved = 1 if resolution == DisputeStatus.OVERTURNED else 0
    assert (await Task.get(id=task.id)).approved_count == expected_approved
    await assert_ledger_consistent(requester.account_id)


async def test_an_approved_submission_cannot_be_disputed(
    requester: Requester, task: Task, worker: Worker
) -> None:
    submission = await new_submitted(task, worker)
    # Nor can a submitted one: only a rejection is disputed.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        dispute_rejection(worker.principal, submission.id, "Pay me."),
    )
    await approve_submission(requester.principal, submission.id)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        dispute_rejection(worker.principal, submission.id, "Pay me twice."),
    )
    assert not await Dispute.filter(submission_id=submission.id).exists()


async def test_resolving_is_only_for_disputed_submissions(
    requester: Requester, task: Task, worker: Worker
) -> None:
    rejected = await _rejected(requester, task, worker)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        resolve_dispute(requester.principal, rejected.id, DisputeStatus.OVERTURNED),
    )
    await dispute_rejection(worker.principal, rejected.id, "Look again.")
    await resolve_dispute(requester.principal, rejected.id, DisputeStatus.UPHELD)
    # A resolved dispute cannot be resolved again (not even the other way).
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        resolve_dispute(requester.principal, rejected.id, DisputeStatus.OVERTURNED),
    )


async def test_a_partial_payment_cannot_exceed_the_reward(requester: Requester) -> None:
    task = await new_task(requester, reward="1.50", budget="6.00")
    worker = await new_worker()
    submission = await _rejected(requester, task, worker)
    await dispute_rejection(worker.principal, submission.id, "Half of it was right.")
    for amount in (151, 10_000):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            resolve_dispute(
                requester.principal, submission.id, DisputeStatus.PARTIALLY_PAID, "", amount
            ),
        )
    for resolution, amount in (
        (DisputeStatus.PARTIALLY_PAID, None),
        (DisputeStatus.PARTIALLY_PAID, 0),
        (DisputeStatus.OVERTURNED, 10),
        (DisputeStatus.OPEN, None),
    ):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            resolve_dispute(requester.principal, submission.id, resolution, "", amount),
        )
    assert (await Submission.get(id=submission.id)).state == S.DISPUTED
    resolved = await resolve_dispute(
        requester.principal, submission.id, DisputeStatus.PARTIALLY_PAID, "", 150
    )
    assert (resolved.state, resolved.paid_minor) == (S.PARTIALLY_PAID, 150)
    await assert_ledger_consistent(requester.account_id)


async def test_a_rejection_is_disputed_once(
    requester: Requester, task: Task, worker: Worker
) -> None:
    submission = await new_submitted(task, worker)
    await reject_submission(requester.principal, submission.id, "Wrong animal.")
    await dispute_rejection(worker.principal, submission.id, "It is a cat.")
    await resolve_dispute(requester.principal, submission.id, DisputeStatus.UPHELD, "It is a dog.")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        dispute_rejection(worker.principal, submission.id, "Still a cat."),
    )
    assert await Dispute.filter(submission_id=submission.id).count() == 1


async def _rejected(requester: Requester, task: Task, worker: Worker) -> Submission:
    submission = await new_submitted(task, worker)
    return await reject_submission(requester.principal, submission.id, "Not what was asked.")
