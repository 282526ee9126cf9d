"""The figures on tasks and accounts equal the sums of their ledger rows."""

from __future__ import annotations

import pytest

from gql_server.models import Account, LedgerEntry, Task
from gql_server.models.enums import SubmissionState, TaskStatus
from gql_server.services import ledger
from gql_server.services.demo import seed_demo
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.task_lifecycle import publish_task
from gql_server.services.tasks import TaskDraft, create_task
from tests.factories import Requester


async def _assert_figures_equal_ledger(account_id: int) -> None:
    account = await Account.get(id=account_id)
    assert account.balance_minor == await ledger.account_balance_from_ledger(account_id)
    for task in await Task.filter(account_id=account_id):
        figures = await ledger.task_figures_from_ledger(task.id)
        assert (
            task.budget_minor,
            task.committed_minor,
            task.spent_minor,
            task.remaining_minor,
        ) == (
            figures.budget_minor,
            figures.committed_minor,
            figures.spent_minor,
            figures.remaining_minor,
        )


async def test_the_demo_is_consistent(database) -> None:
    demo = await seed_demo()
    await _assert_figures_equal_ledger(demo.account_id)
    open_tasks = await Task.filter(account_id=demo.account_id, status=TaskStatus.OPEN)
    assert len(open_tasks) == 2
    states = {s.state for t in open_tasks for s in await t.submissions.all()}
    assert {
        SubmissionState.STARTED,
        SubmissionState.SUBMITTED,
        SubmissionState.APPROVED,
        SubmissionState.REJECTED,
    } <= states
    busy = next(t for t in open_tasks if t.committed_minor)
    # 1 started + 3 submitted hold a reward each; 1 approved was paid.
    assert (busy.committed_minor, busy.spent_minor) == (4 * busy.reward_minor, busy.reward_minor)


async def test_seed_demo_twice_adds_nothing_the_second_time(database) -> None:
    first = await seed_demo(skip_if_present=True)
    again = await seed_demo(skip_if_present=True)
    assert again.account_id == first.account_id and again.owner_api_key is None


async def test_publishing_without_funds_changes_nothing(account: Requester) -> None:
    from gql_server.models import Project

    principal = account.principal
    project = await Project.create(account_id=account.account_id, name="Unfunded")
    task = await create_task(
        principal,
        project.id,
        TaskDraft(
            title="T", instructions="I", reward="1.00", budget="10.00", time_limit_seconds=600
        ),
    )
    with pytest.raises(UseCaseError) as raised:
        await publish_task(principal, task.id)
    assert raised.value.errors[0].code == ErrorCode.INSUFFICIENT_FUNDS
    task = await Task.get(id=task.id)
    assert task.status == TaskStatus.DRAFT and task.budget_minor == 0
    assert not await LedgerEntry.filter(task_id=task.id).exists()
    await _assert_figures_equal_ledger(account.account_id)
