"""A task's life: closing by itself once its budget or its submissions are used up (the
unspent budget back to the account at once), reviews after a manual close, and a live
budget raised and lowered."""

from __future__ import annotations

import pytest
import pytest_asyncio

from gql_server.clock import FrozenClock
from gql_server.models import LedgerEntry, Task
from gql_server.models.enums import (
    ActorKind,
    CloseReason,
    LedgerReason,
    SubmissionState,
    TaskStatus,
)
from gql_server.services.errors import ErrorCode
from gql_server.services.review import approve_submission, reject_submission
from gql_server.services.submissions import start_submission
from gql_server.services.task_lifecycle import close_task
from gql_server.settings import Settings
from tests.factories import (
    FIGURES,
    FUNDED,
    Requester,
    Worker,
    api_open_task,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    figures_of,
    new_requester,
    new_submitted,
    new_task,
    new_worker,
)
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")

S = SubmissionState


@pytest_asyncio.fixture
async def requester(database: Settings) -> Requester:
    """The account of the test, funded with FUNDED only (not the default 1000.00)."""
    return await new_requester(fund_minor=FUNDED)


async def test_closes_when_the_budget_cannot_fund_another_reward(
    frozen: FrozenClock, requester: Requester
) -> None:
    # Funds exactly two rewards, with 0.50 over that no reward can use.
    task = await new_task(requester, reward="1.00", budget="2.50")
    assert await balance(requester.account_id) == FUNDED - 250
    first, second = await new_submitted(task), await new_submitted(task)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INSUFFICIENT_FUNDS,
        start_submission((await new_worker()).principal, task.id),
    )
    assert await figures(task.id) == (250, 200, 0, 50)

    await approve_submission(requester.principal, first.id)
    # A reward is still committed: the second one may be paid, so the task stays open.
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN
    assert await figures(task.id) == (250, 100, 100, 50)
    await assert_ledger_consistent(requester.account_id)

    await approve_submission(requester.principal, second.id)
    closed = await Task.get(id=task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.BUDGET_EXHAUSTED)
    assert closed.closed_at == frozen.now()
    # The unspent 0.50 went back to the account at once.
    assert await figures(task.id) == (200, 0, 200, 0)
    assert await balance(requester.account_id) == FUNDED - 200
    returned = await LedgerEntry.filter(task_id=task.id, reason=LedgerReason.RETURN)
    assert [(r.amount_minor, r.actor_kind) for r in returned] == [(50, ActorKind.SYSTEM)]
    await assert_ledger_consistent(requester.account_id)


async def test_a_budget_of_one_reward_closes_once_it_is_paid(requester: Requester) -> None:
    task = await new_task(requester, reward="1.00", budget="1.00")
    submission = await new_submitted(task)
    await approve_submission(requester.principal, submission.id)
    closed = await Task.get(id=task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.BUDGET_EXHAUSTED)
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)


async def test_closes_when_max_submissions_are_approved(
    frozen: FrozenClock, requester: Requester
) -> None:
    task = await new_task(requester, reward="1.00", budget="5.00", max_submissions=1)
    submission = await new_submitted(task)
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN
    await approve_submission(requester.principal, submission.id)
    closed = await Task.get(id=task.id)
    assert (closed.status, closed.close_reason) == (TaskStatus.CLOSED, CloseReason.MAX_SUBMISSIONS)
    assert await figures(task.id) == (100, 0, 100, 0)
    assert await balance(requester.account_id) == FUNDED - 100
    await assert_ledger_consistent(requester.account_id)


async def test_a_rejection_does_not_count_towards_max_submissions(requester: Requester) -> None:
    task = await new_task(requester, reward="1.00", budget="5.00", max_submissions=1)
    submission = await new_submitted(task)
    await reject_submission(requester.principal, submission.id, "No.")
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN
    assert await figures(task.id) == (500, 0, 0, 500)
    await assert_ledger_consistent(requester.account_id)


async def test_reviews_of_pending_submissions_go_on_after_a_manual_close(
    requester: Requester,
) -> None:
    task = await new_task(requester, reward="1.00", budget="5.00")
    to_approve, to_reject = await new_submitted(task), await new_submitted(task)
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
    task_now = await Task.get(id=task.id)
    assert (task_now.status, task_now.close_reason) == (TaskStatus.CLOSED, CloseReason.MANUAL)


# --- through the API --------------------------------------------------------------------


async def test_raising_and_lowering_a_live_budget(
    api: Api, account: Requester, worker: Worker
) -> None:
    owner = account.key
    task_id = await api_open_task(api, owner)
    await api.data(
        "mutation ($id: ID!) { startSubmission(input: {taskId: $id}) { submission { id } } }",
        {"id": task_id},
        key=worker.key,
    )
    change = f"mutation ($id: ID!, $b: Decimal!) {{ changeTaskBudget(input: {{taskId: $id, budget: $b}}) {{ task {{ status {FIGURES} }} userErrors {{ field code }} }} }}"

    raised = await api.data(change, {"id": task_id, "b": "50.00"}, key=owner)
    assert figures_of(raised["changeTaskBudget"]["task"]) == ("50.00", "1.50", "0.00", "48.50")
    lowered = await api.data(change, {"id": task_id, "b": "10.00"}, key=owner)
    assert figures_of(lowered["changeTaskBudget"]["task"]) == ("10.00", "1.50", "0.00", "8.50")
    below = await api.data(change, {"id": task_id, "b": "1.00"}, key=owner)
    assert below["changeTaskBudget"] == {
        "task": None,
        "userErrors": [{"field": ["input", "budget"], "code": "INSUFFICIENT_FUNDS"}],
    }
    balance = await api.data("{ account { balance { amount } } }", key=owner)
    assert balance["account"]["balance"]["amount"] == "90.00"
