"""Submissions through the services: every transition, every refusal, limits, idempotency,
bulk review; after each step the figures equal the ledger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from gql_server.models import (
    Dispute,
    LedgerEntry,
    Restriction,
    Review,
    Submission,
    Task,
    TaskWorkerCounter,
)
from gql_server.models.enums import (
    ActorKind,
    DisputeStatus,
    LedgerReason,
    MemberRole,
    RestrictionKind,
    RestrictionScope,
    ReviewDecision,
    SubmissionState,
    TaskStatus,
)
from gql_server.services import accounts, idempotency
from gql_server.services.bulk_review import bulk_review
from gql_server.services.errors import ErrorCode
from gql_server.services.idempotency import IdempotencyKey
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal
from gql_server.services.submissions import (
    approve_submission,
    dispute_rejection,
    expire_started,
    pay_bonus,
    reject_submission,
    request_revision,
    resolve_dispute,
    start_submission,
    submit_submission,
)
from gql_server.services.task_lifecycle import close_task, pause_task
from gql_server.services.tasks import TargetingDraft
from tests.factories import (
    Requester,
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
FUNDED = 10_000  # every requester here starts with 100.00


async def _started(task: Task, worker: WorkerPrincipal | None = None) -> Submission:
    return await start_submission(worker or await new_worker(), task.id)


async def _submitted(
    task: Task, worker: WorkerPrincipal | None = None, text: str = "a cat"
) -> Submission:
    worker = worker or await new_worker()
    started = await start_submission(worker, task.id)
    return await submit_submission(worker, started.id, answer(text))


async def _rejected(requester: Requester, task: Task, worker: WorkerPrincipal) -> Submission:
    submission = await _submitted(task, worker)
    return await reject_submission(requester.principal, submission.id, "Not what was asked.")


# --- allowed transitions ------------------------------------------------------------------


async def test_started_submitted_approved_pays_the_committed_reward() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.50", budget="6.00")
    assert await figures(task.id) == (600, 0, 0, 600)
    assert await balance(requester.account_id) == FUNDED - 600
    await assert_ledger_consistent(requester.account_id)

    worker = await new_worker()
    submission = await start_submission(worker, task.id)
    assert (submission.state, submission.reward_minor) == (S.STARTED, 150)
    assert await figures(task.id) == (600, 150, 0, 450)
    await assert_ledger_consistent(requester.account_id)

    submission = await submit_submission(worker, submission.id, answer("  a cat "))
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


@pytest.mark.parametrize(
    ("resolution", "amount", "state", "paid"),
    [
        (DisputeStatus.OVERTURNED, None, S.APPROVED, 150),
        (DisputeStatus.UPHELD, None, S.REJECTED, 0),
        (DisputeStatus.PARTIALLY_PAID, 60, S.PARTIALLY_PAID, 60),
    ],
)
async def test_rejected_disputed_and_resolved(
    resolution: DisputeStatus, amount: int | None, state: SubmissionState, paid: int
) -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.50", budget="6.00")
    worker = await new_worker()
    submission = await _submitted(task, worker)

    rejected = await reject_submission(requester.principal, submission.id, "  Blurry.  ")
    assert (rejected.state, rejected.feedback, rejected.paid_minor) == (S.REJECTED, "Blurry.", 0)
    assert await figures(task.id) == (600, 0, 0, 600)
    await assert_ledger_consistent(requester.account_id)

    disputed = await dispute_rejection(worker, submission.id, "It is a cat.")
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


async def test_revision_requested_then_submitted_again_keeps_the_prior_responses() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="3.00")
    worker = await new_worker()
    submission = await _submitted(task, worker, "a dog")

    revised = await request_revision(requester.principal, submission.id, "Look again.")
    assert (revised.state, revised.feedback, revised.revision_count) == (
        S.REVISION_REQUESTED,
        "Look again.",
        1,
    )
    assert await figures(task.id) == (300, 100, 0, 200)  # the reward stays committed
    await assert_ledger_consistent(requester.account_id)

    again = await submit_submission(worker, submission.id, answer("a cat"))
    assert again.state == S.SUBMITTED
    assert again.response == {"answer": "a cat"}
    assert again.prior_responses == [{"answer": "a dog"}]
    assert await figures(task.id) == (300, 100, 0, 200)
    await assert_ledger_consistent(requester.account_id)

    await request_revision(requester.principal, submission.id, "Closer, but no.")
    third = await submit_submission(worker, submission.id, answer("a tabby cat"))
    assert third.prior_responses == [{"answer": "a dog"}, {"answer": "a cat"}]
    assert third.revision_count == 2

    approved = await approve_submission(requester.principal, submission.id)
    assert (approved.state, approved.paid_minor) == (S.APPROVED, 100)
    assert await figures(task.id) == (300, 0, 100, 200)
    await assert_ledger_consistent(requester.account_id)


async def test_started_expires_after_its_time_limit() -> None:
    with frozen_clock() as frozen:
        requester = await new_requester(fund_minor=FUNDED)
        task = await new_task(requester, reward="1.00", budget="3.00", time_limit_seconds=600)
        worker = await new_worker()
        submission = await start_submission(worker, task.id)
        assert await figures(task.id) == (300, 100, 0, 200)

        frozen.advance(timedelta(minutes=9))
        await expire_started()
        assert (await Submission.get(id=submission.id)).state == S.STARTED
        assert await figures(task.id) == (300, 100, 0, 200)

        frozen.advance(timedelta(minutes=2))
        assert await expire_started() >= 1
        expired = await Submission.get(id=submission.id)
        assert (expired.state, expired.paid_minor, expired.slot_released) == (S.EXPIRED, 0, True)
        assert await figures(task.id) == (300, 0, 0, 300)
        assert (await Task.get(id=task.id)).slots_taken == 0
        counter = await TaskWorkerCounter.get(task_id=task.id, worker_id=worker.worker_id)
        assert counter.slots_taken == 0
        await assert_ledger_consistent(requester.account_id)

        # An expired submission is final, and the freed slot can be taken again.
        await expect_unchanged(
            requester.account_id,
            ErrorCode.INVALID_STATE,
            submit_submission(worker, submission.id, answer()),
        )
        await start_submission(worker, task.id)
        assert await figures(task.id) == (300, 100, 0, 200)
        await assert_ledger_consistent(requester.account_id)


async def test_submitting_after_the_time_limit_before_the_sweep_is_refused() -> None:
    with frozen_clock() as frozen:
        requester = await new_requester(fund_minor=FUNDED)
        task = await new_task(requester, time_limit_seconds=60)
        worker = await new_worker()
        submission = await start_submission(worker, task.id)
        frozen.advance(timedelta(seconds=61))
        await expect_unchanged(
            requester.account_id,
            ErrorCode.INVALID_STATE,
            submit_submission(worker, submission.id, answer()),
        )


# --- refused transitions ------------------------------------------------------------------


async def test_approving_twice_is_invalid_state_and_pays_once() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    submission = await _submitted(task)
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


async def test_a_started_submission_cannot_be_reviewed() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    submission = await _started(task)
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


async def test_an_approved_submission_cannot_be_disputed() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    worker = await new_worker()
    submission = await _submitted(task, worker)
    # Nor can a submitted one: only a rejection is disputed.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        dispute_rejection(worker, submission.id, "Pay me."),
    )
    await approve_submission(requester.principal, submission.id)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        dispute_rejection(worker, submission.id, "Pay me twice."),
    )
    assert not await Dispute.filter(submission_id=submission.id).exists()


async def test_resolving_is_only_for_disputed_submissions() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    worker = await new_worker()
    rejected = await _rejected(requester, task, worker)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        resolve_dispute(requester.principal, rejected.id, DisputeStatus.OVERTURNED),
    )
    await dispute_rejection(worker, rejected.id, "Look again.")
    await resolve_dispute(requester.principal, rejected.id, DisputeStatus.UPHELD)
    # A resolved dispute cannot be resolved again (not even the other way).
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        resolve_dispute(requester.principal, rejected.id, DisputeStatus.OVERTURNED),
    )


async def test_someone_elses_submission_is_not_found() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    other_requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    owner, intruder = await new_worker(), await new_worker()
    started = await _started(task, owner)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_FOUND,
        submit_submission(intruder, started.id, answer()),
    )
    await submit_submission(owner, started.id, answer())
    # Another account's member cannot review it either.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_FOUND,
        approve_submission(other_requester.principal, started.id),
    )
    await reject_submission(requester.principal, started.id, "No.")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_FOUND,
        dispute_rejection(intruder, started.id, "Mine now."),
    )
    for unknown in (None, 0, started.id + 10_000_000):
        await expect_unchanged(
            requester.account_id, ErrorCode.NOT_FOUND, submit_submission(owner, unknown, answer())
        )


async def test_a_closed_or_paused_task_cannot_be_started() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    paused = await new_task(requester)
    await pause_task(requester.principal, paused.id)
    closed = await new_task(requester)
    await close_task(requester.principal, closed.id)
    assert await balance(requester.account_id) == FUNDED - 1000
    worker = await new_worker()
    for task in (paused, closed):
        await expect_unchanged(
            requester.account_id, ErrorCode.INVALID_STATE, start_submission(worker, task.id)
        )


async def test_a_draft_or_unknown_task_is_not_found() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    draft = await new_task(requester, publish=False)
    worker = await new_worker()
    for task_id in (draft.id, None, draft.id + 10_000_000):
        await expect_unchanged(
            requester.account_id, ErrorCode.NOT_FOUND, start_submission(worker, task_id)
        )


async def test_feedback_and_reasons_are_required() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    worker = await new_worker()
    submission = await _submitted(task, worker)
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
        dispute_rejection(worker, submission.id, "  "),
    )


async def test_a_response_must_meet_the_proof_requirements() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    worker = await new_worker()
    started = await _started(task, worker)
    for response in ({}, {"answer": "  "}, {"answer": "x", "extra": "y"}):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.VALIDATION,
            submit_submission(worker, started.id, response),
        )


async def test_a_bonus_needs_paid_work() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="10.00")
    worker = await new_worker()
    submission = await _submitted(task, worker)
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

    paid = await _submitted(task)
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


async def test_a_partial_payment_cannot_exceed_the_reward() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.50", budget="6.00")
    worker = await new_worker()
    submission = await _rejected(requester, task, worker)
    await dispute_rejection(worker, submission.id, "Half of it was right.")
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


# --- limits -------------------------------------------------------------------------------


async def test_max_submissions_limits_the_slots() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, max_submissions=2)
    await _started(task)
    await _started(task)
    await expect_unchanged(
        requester.account_id, ErrorCode.LIMIT_REACHED, start_submission(await new_worker(), task.id)
    )
    assert await figures(task.id) == (1000, 200, 0, 800)


async def test_max_submissions_per_worker() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, max_submissions_per_worker=2)
    worker = await new_worker()
    await _started(task, worker)
    await _started(task, worker)
    await expect_unchanged(
        requester.account_id, ErrorCode.LIMIT_REACHED, start_submission(worker, task.id)
    )
    # Others are not held back by this worker's limit.
    await _started(task)
    assert await figures(task.id) == (1000, 300, 0, 700)
    await assert_ledger_consistent(requester.account_id)


async def test_the_daily_limit_resets_at_midnight_in_the_accounts_time_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    tomorrow = datetime.now(tokyo).date() + timedelta(days=1)
    late_evening = datetime.combine(tomorrow, time(23, 30), tokyo)
    with frozen_clock(late_evening) as frozen:
        requester = await new_requester(fund_minor=FUNDED, timezone="Asia/Tokyo")
        task = await new_task(requester, daily_submission_limit=2)
        await _started(task)
        frozen.advance(timedelta(minutes=10))
        await _started(task)
        frozen.advance(timedelta(minutes=10))  # 23:50 in Tokyo: the same day
        await expect_unchanged(
            requester.account_id,
            ErrorCode.LIMIT_REACHED,
            start_submission(await new_worker(), task.id),
        )

        utc_day = frozen.now().date()
        frozen.advance(timedelta(minutes=20))  # 00:10 in Tokyo, still the same day in UTC
        assert frozen.now().date() == utc_day
        assert frozen.now().astimezone(tokyo).date() == tomorrow + timedelta(days=1)
        await _started(task)
        await _started(task)
        await expect_unchanged(
            requester.account_id,
            ErrorCode.LIMIT_REACHED,
            start_submission(await new_worker(), task.id),
        )
        assert await figures(task.id) == (1000, 400, 0, 600)
        await assert_ledger_consistent(requester.account_id)
        # Created "tomorrow": closed, so that it tops no other test's listing of open tasks.
        await close_task(requester.principal, task.id)


async def test_a_budget_that_cannot_fund_another_reward() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="2.50")
    await _started(task)
    await _started(task)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INSUFFICIENT_FUNDS,
        start_submission(await new_worker(), task.id),
    )
    assert await figures(task.id) == (250, 200, 0, 50)
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN


async def test_a_banned_worker_is_restricted() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    other_requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    banned, lifted, elsewhere = await new_worker(), await new_worker(), await new_worker()
    started = await _started(task, banned)

    async def ban(account_id: int, worker: WorkerPrincipal, **extra: object) -> None:
        await Restriction.create(
            account_id=account_id,
            worker_id=worker.worker_id,
            kind=RestrictionKind.BAN,
            scope=RestrictionScope.ACCOUNT,
            starts_at=datetime.now(UTC) - timedelta(minutes=1),
            actor_kind=ActorKind.MEMBER,
            created_by_id=requester.principal.member_id,
            **extra,
        )

    await ban(requester.account_id, banned)
    await ban(requester.account_id, lifted, lifted_at=datetime.now(UTC))
    await ban(other_requester.account_id, elsewhere)

    await expect_unchanged(
        requester.account_id, ErrorCode.RESTRICTED, start_submission(banned, task.id)
    )
    # A ban also stops the submission it started before the ban.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.RESTRICTED,
        submit_submission(banned, started.id, answer()),
    )
    # A lifted ban, or another account's ban, does not restrict.
    await _started(task, lifted)
    await _started(task, elsewhere)
    await assert_ledger_consistent(requester.account_id)


async def test_targeting_by_country() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, targeting=TargetingDraft(countries_allowed=["FR"]))
    await expect_unchanged(
        requester.account_id,
        ErrorCode.NOT_ELIGIBLE,
        start_submission(await new_worker("DE"), task.id),
    )
    await _started(task, await new_worker("FR"))
    assert await figures(task.id) == (1000, 100, 0, 900)


# --- idempotency --------------------------------------------------------------------------


def _key(principal: MemberPrincipal, key: str, submission_id: int) -> IdempotencyKey:
    idem = IdempotencyKey.of(principal, key, "approveSubmission", {"id": submission_id})
    assert idem is not None
    return idem


async def test_an_approval_retried_with_its_key_pays_once() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    submission = await _submitted(task)
    member = requester.principal

    first = await approve_submission(member, submission.id, _key(member, "k-1", submission.id))
    again = await approve_submission(member, submission.id, _key(member, "k-1", submission.id))
    assert first.id == again.id == submission.id
    assert (again.state, again.paid_minor) == (S.APPROVED, 100)
    pays = await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY)
    assert [(p.amount_minor, p.idempotency_key) for p in pays] == [(100, "k-1")]
    assert await figures(task.id) == (1000, 0, 100, 900)
    await assert_ledger_consistent(requester.account_id)


async def test_a_key_reused_with_other_arguments_is_a_mismatch() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    first, second = await _submitted(task), await _submitted(task)
    member = requester.principal
    await approve_submission(member, first.id, _key(member, "k-1", first.id))
    await expect_unchanged(
        requester.account_id,
        ErrorCode.IDEMPOTENCY_MISMATCH,
        approve_submission(member, second.id, _key(member, "k-1", second.id)),
    )
    assert (await Submission.get(id=second.id)).state == S.SUBMITTED
    # Keys belong to their caller: another member may use the same string.
    manager = await accounts.add_member(
        account_id=requester.account_id, name="M", email="m@example.test", role=MemberRole.MANAGER
    )
    colleague = MemberPrincipal(manager.id, requester.account_id, MemberRole.MANAGER, 0)
    approved = await approve_submission(colleague, second.id, _key(colleague, "k-1", second.id))
    assert approved.state == S.APPROVED
    assert await figures(task.id) == (1000, 0, 200, 800)
    await assert_ledger_consistent(requester.account_id)


async def test_a_failed_use_case_leaves_its_key_free() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    started = await _started(task)
    member = requester.principal
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        approve_submission(member, started.id, _key(member, "k-1", started.id)),
    )
    await submit_submission(
        WorkerPrincipal(started.worker_id, 0), started.id, answer()
    )  # now it can be approved
    approved = await approve_submission(member, started.id, _key(member, "k-1", started.id))
    assert approved.state == S.APPROVED


async def test_a_retry_that_looked_up_its_key_just_before_the_first_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retry finds no record, then the first request commits: it still gets the result."""
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    submission = await _submitted(task)
    member = requester.principal
    original = idempotency._stored
    looked_up, first_done = asyncio.Event(), asyncio.Event()

    async def stored_then_wait(idem: IdempotencyKey) -> object:
        result = await original(idem)
        if not looked_up.is_set():  # the retry: hold it until the first request is done
            looked_up.set()
            await first_done.wait()
        return result

    monkeypatch.setattr(idempotency, "_stored", stored_then_wait)

    async def first() -> Submission:
        await looked_up.wait()
        try:
            return await approve_submission(member, submission.id, _key(member, "k", submission.id))
        finally:
            first_done.set()

    retry, winner = await asyncio.gather(
        approve_submission(member, submission.id, _key(member, "k", submission.id)), first()
    )
    assert retry.id == winner.id == submission.id
    assert retry.state == winner.state == S.APPROVED
    assert (
        await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY).count() == 1
    )
    assert await figures(task.id) == (1000, 0, 100, 900)
    await assert_ledger_consistent(requester.account_id)


# --- bulk review --------------------------------------------------------------------------


async def test_bulk_approval_reports_each_item_in_input_order() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    other_requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="10.00")
    second_task = await new_task(requester, reward="2.00", budget="10.00")
    a, b = await _submitted(task), await _submitted(task)
    c = await _submitted(second_task)
    approved = await _submitted(task)
    await approve_submission(requester.principal, approved.id)
    started = await _started(task)
    foreign = await _submitted(await new_task(other_requester))
    unknown = c.id + 10_000_000

    ids = [a.id, approved.id, unknown, b.id, a.id, None, c.id, started.id, foreign.id]
    results = await bulk_review(requester.principal, ids, ReviewDecision.APPROVED, None)

    assert [(r.index, r.submission_id, r.ok) for r in results] == [
        (i, pk, ok)
        for i, (pk, ok) in enumerate(
            zip(ids, [True, False, False, True, False, False, True, False, False], strict=True)
        )
    ]
    codes = [r.error.code if r.error else None for r in results]
    assert codes == [
        None,
        ErrorCode.INVALID_STATE,
        ErrorCode.NOT_FOUND,
        None,
        ErrorCode.DUPLICATE,
        ErrorCode.NOT_FOUND,
        None,
        ErrorCode.INVALID_STATE,
        ErrorCode.NOT_FOUND,
    ]
    assert [r.error.field for r in results if r.error] == [
        ("input", "submissionIds", str(i)) for i in (1, 2, 4, 5, 7, 8)
    ]
    states = {s.id: (s.state, s.paid_minor) for s in await Submission.filter(id__in=ids[:8])}
    assert states[a.id] == states[b.id] == (S.APPROVED, 100)
    assert states[c.id] == (S.APPROVED, 200)
    assert states[started.id] == (S.STARTED, 0)
    assert (await Submission.get(id=foreign.id)).state == S.SUBMITTED
    assert await Review.filter(submission_id__in=[a.id, b.id, c.id]).count() == 3
    assert await figures(task.id) == (1000, 100, 300, 600)
    assert await figures(second_task.id) == (1000, 0, 200, 800)
    assert (await Task.get(id=task.id)).approved_count == 3
    await assert_ledger_consistent(requester.account_id)
    await assert_ledger_consistent(other_requester.account_id)


async def test_bulk_rejection_releases_and_returns_what_a_closed_task_gave_back() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="5.00")
    a, b = await _submitted(task), await _submitted(task)
    await close_task(requester.principal, task.id)
    assert await figures(task.id) == (200, 200, 0, 0)
    assert await balance(requester.account_id) == FUNDED - 200

    await expect_unchanged(
        requester.account_id,
        ErrorCode.VALIDATION,
        bulk_review(requester.principal, [a.id, b.id], ReviewDecision.REJECTED, "  "),
    )
    results = await bulk_review(
        requester.principal, [b.id, a.id, b.id], ReviewDecision.REJECTED, "Wrong."
    )
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].error is not None and results[2].error.code == ErrorCode.DUPLICATE
    for submission in await Submission.filter(id__in=[a.id, b.id]):
        assert (submission.state, submission.feedback) == (S.REJECTED, "Wrong.")
    assert await figures(task.id) == (0, 0, 0, 0)
    assert await balance(requester.account_id) == FUNDED
    await assert_ledger_consistent(requester.account_id)


async def test_a_rejection_is_disputed_once() -> None:
    requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    worker = await new_worker()
    submission = await _submitted(task, worker)
    await reject_submission(requester.principal, submission.id, "Wrong animal.")
    await dispute_rejection(worker, submission.id, "It is a cat.")
    await resolve_dispute(requester.principal, submission.id, DisputeStatus.UPHELD, "It is a dog.")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        dispute_rejection(worker, submission.id, "Still a cat."),
    )
    assert await Dispute.filter(submission_id=submission.id).count() == 1
