"""Idempotent payments: an approval retried with its key pays once; a key is its caller's and
binds its arguments; a failed use case leaves the key free."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from gql_server.models import LedgerEntry, Submission, Task
from gql_server.models.enums import LedgerReason, MemberRole, SubmissionState
from gql_server.services import idempotency
from gql_server.services.errors import ErrorCode
from gql_server.services.idempotency import IdempotencyKey
from gql_server.services.principals import WorkerPrincipal
from gql_server.services.review import approve_submission
from gql_server.services.submissions import submit_submission
from gql_server.settings import Settings
from tests.factories import (
    FUNDED,
    Requester,
    answer,
    assert_ledger_consistent,
    expect_unchanged,
    figures,
    new_requester,
    new_started,
    new_submitted,
)

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState


@pytest_asyncio.fixture
async def requester(database: Settings) -> Requester:
    """The account of the test, funded with FUNDED only (not the default 1000.00)."""
    return await new_requester(fund_minor=FUNDED)


async def test_an_approval_retried_with_its_key_pays_once(requester: Requester, task: Task) -> None:
    submission = await new_submitted(task)
    member = requester.principal

    first = await approve_submission(member, submission.id, "k-1")
    again = await approve_submission(member, submission.id, "k-1")
    assert first.id == again.id == submission.id
    assert (again.state, again.paid_minor) == (S.APPROVED, 100)
    pays = await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY)
    assert [(p.amount_minor, p.idempotency_key) for p in pays] == [(100, "k-1")]
    assert await figures(task.id) == (1000, 0, 100, 900)
    await assert_ledger_consistent(requester.account_id)


async def test_a_key_reused_with_other_arguments_is_a_mismatch(
    requester: Requester, task: Task
) -> None:
    first, second = await new_submitted(task), await new_submitted(task)
    member = requester.principal
    await approve_submission(member, first.id, "k-1")
    await expect_unchanged(
        requester.account_id,
        ErrorCode.IDEMPOTENCY_MISMATCH,
        approve_submission(member, second.id, "k-1"),
    )
    assert (await Submission.get(id=second.id)).state == S.SUBMITTED
    # Keys belong to their caller: another member may use the same string.
    colleague = (await requester.member(MemberRole.MANAGER, "M")).principal
    approved = await approve_submission(colleague, second.id, "k-1")
    assert approved.state == S.APPROVED
    assert await figures(task.id) == (1000, 0, 200, 800)
    await assert_ledger_consistent(requester.account_id)


async def test_a_failed_use_case_leaves_its_key_free(requester: Requester, task: Task) -> None:
    started = await new_started(task)
    member = requester.principal
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INVALID_STATE,
        approve_submission(member, started.id, "k-1"),
    )
    await submit_submission(
        WorkerPrincipal(started.worker_id, 0), started.id, answer()
    )  # now it can be approved
    approved = await approve_submission(member, started.id, "k-1")
    assert approved.state == S.APPROVED


async def test_a_retry_that_looked_up_its_key_just_before_the_first_committed(
    monkeypatch: pytest.MonkeyPatch, requester: Requester, task: Task
) -> None:
    """The retry finds no record, then the first request commits: it still gets the result."""
    submission = await new_submitted(task)
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
            return await approve_submission(member, submission.id, "k")
        finally:
            first_done.set()

    retry, winner = await asyncio.gather(approve_submission(member, submission.id, "k"), first())
    assert retry.id == winner.id == submission.id
    assert retry.state == winner.state == S.APPROVED
    assert (
        await LedgerEntry.filter(submission_id=submission.id, reason=LedgerReason.PAY).count() == 1
    )
    assert await figures(task.id) == (1000, 0, 100, 900)
    await assert_ledger_consistent(requester.account_id)
