"""Bulk review: each item reported in input order, one transaction per item, the money
right after a closed task gave back its remaining budget."""

from __future__ import annotations

import pytest

from gql_server.models import Review, Submission, Task
from gql_server.models.enums import ReviewDecision, SubmissionState
from gql_server.services.errors import ErrorCode
from gql_server.services.review import approve_submission, bulk_review
from gql_server.services.task_lifecycle import close_task
from tests.factories import (
    FUNDED,
    Requester,
    api_open_task,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    new_requester,
    new_started,
    new_submitted,
    new_task,
    new_worker,
)
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState


async def test_bulk_approval_reports_each_item_in_input_order(requester: Requester) -> None:
    other_requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester, reward="1.00", budget="10.00")
    second_task = await new_task(requester, reward="2.00", budget="10.00")
    a, b = await new_submitted(task), await new_submitted(task)
    c = await new_submitted(second_task)
    approved = await new_submitted(task)
    await approve_submission(requester.principal, approved.id)
    started = await new_started(task)
    foreign = await new_submitted(await new_task(other_requester))
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
        ("submission_ids", i) for i in (1, 2, 4, 5, 7, 8)
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


async def test_bulk_rejection_releases_and_returns_what_a_closed_task_gave_back(
    requester: Requester,
) -> None:
    task = await new_task(requester, reward="1.00", budget="5.00")
    a, b = await new_submitted(task), await new_submitted(task)
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


# --- through the API --------------------------------------------------------------------


async def test_bulk_review_reports_per_item(api: Api, account: Requester) -> None:
    task_id = await api_open_task(api, account.key)
    ids = []
    for _ in range(3):
        key = (await new_worker("US")).key
        started = await api.data(
            "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
            {"id": task_id},
            key=key,
        )
        sid = started["startSubmission"]["submission"]["id"]
        if len(ids) < 2:
            await api.data(
                'mutation ($id: ID!) { submitSubmission(input: {submissionId: $id, response: [{name: "screenshot", value: "https://x.example/a.png"}]}) { userErrors { code } } }',
                {"id": sid},
                key=key,
            )
        ids.append(sid)
    result = await api.data(
        "mutation ($ids: [ID!]!) { bulkReviewSubmissions(input: {submissionIds: $ids, decision: APPROVE}) { results { id ok userErrors { code field } } userErrors { code } } }",
        {"ids": [ids[0], ids[2], "garbage", ids[1], ids[0]]},
        key=account.key,
    )
    results = result["bulkReviewSubmissions"]["results"]
    assert [r["ok"] for r in results] == [True, False, False, True, False]
    assert [r["userErrors"][0]["code"] if r["userErrors"] else None for r in results] == [
        None,
        "INVALID_STATE",
        "NOT_FOUND",
        None,
        "DUPLICATE",
    ]
    assert [r["id"] for r in results] == [ids[0], ids[2], "garbage", ids[1], ids[0]]
