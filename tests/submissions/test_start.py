"""Starting work: which tasks can be started, and the limits on slots, workers, days, budget
and restrictions; a refused start changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from gql_server.models import Restriction, Task
from gql_server.models.enums import (
    ActorKind,
    RestrictionKind,
    RestrictionScope,
    TaskStatus,
)
from gql_server.services.errors import ErrorCode
from gql_server.services.submissions import start_submission, submit_submission
from gql_server.services.task_lifecycle import close_task, pause_task
from tests.factories import (
    FUNDED,
    Requester,
    Worker,
    answer,
    assert_ledger_consistent,
    balance,
    expect_unchanged,
    figures,
    frozen_clock,
    new_requester,
    new_started,
    new_task,
    new_worker,
)

pytestmark = pytest.mark.usefixtures("database")


async def test_a_closed_or_paused_task_cannot_be_started(requester: Requester) -> None:
    paused = await new_task(requester)
    await pause_task(requester.principal, paused.id)
    closed = await new_task(requester)
    await close_task(requester.principal, closed.id)
    assert await balance(requester.account_id) == FUNDED - 1000
    worker = await new_worker()
    for task in (paused, closed):
        await expect_unchanged(
            requester.account_id,
            ErrorCode.INVALID_STATE,
            start_submission(worker.principal, task.id),
        )


async def test_a_draft_or_unknown_task_is_not_found(requester: Requester) -> None:
    draft = await new_task(requester, publish=False)
    worker = await new_worker()
    for task_id in (draft.id, None, draft.id + 10_000_000):
        await expect_unchanged(
            requester.account_id, ErrorCode.NOT_FOUND, start_submission(worker.principal, task_id)
        )


async def test_max_submissions_limits_the_slots(requester: Requester) -> None:
    task = await new_task(requester, max_submissions=2)
    await new_started(task)
    await new_started(task)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.LIMIT_REACHED,
        start_submission((await new_worker()).principal, task.id),
    )
    assert await figures(task.id) == (1000, 200, 0, 800)


async def test_max_submissions_per_worker(requester: Requester) -> None:
    task = await new_task(requester, max_submissions_per_worker=2)
    worker = await new_worker()
    await new_started(task, worker)
    await new_started(task, worker)
    await expect_unchanged(
        requester.account_id, ErrorCode.LIMIT_REACHED, start_submission(worker.principal, task.id)
    )
    # Others are not held back by this worker's limit.
    await new_started(task)
    assert await figures(task.id) == (1000, 300, 0, 700)
    await assert_ledger_consistent(requester.account_id)


async def test_the_daily_limit_resets_at_midnight_in_the_accounts_time_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    tomorrow = datetime.now(tokyo).date() + timedelta(days=1)
    late_evening = datetime.combine(tomorrow, time(23, 30), tokyo)
    with frozen_clock(late_evening) as frozen:
        requester = await new_requester(fund_minor=FUNDED, timezone="Asia/Tokyo")
        task = await new_task(requester, daily_submission_limit=2)
        await new_started(task)
        frozen.advance(timedelta(minutes=10))
        await new_started(task)
        frozen.advance(timedelta(minutes=10))  # 23:50 in Tokyo: the same day
        await expect_unchanged(
            requester.account_id,
            ErrorCode.LIMIT_REACHED,
            start_submission((await new_worker()).principal, task.id),
        )

        utc_day = frozen.now().date()
        frozen.advance(timedelta(minutes=20))  # 00:10 in Tokyo, still the same day in UTC
        assert frozen.now().date() == utc_day
        assert frozen.now().astimezone(tokyo).date() == tomorrow + timedelta(days=1)
        await new_started(task)
        await new_started(task)
        await expect_unchanged(
            requester.account_id,
            ErrorCode.LIMIT_REACHED,
            start_submission((await new_worker()).principal, task.id),
        )
        assert await figures(task.id) == (1000, 400, 0, 600)
        await assert_ledger_consistent(requester.account_id)
        # Created "tomorrow": closed, so that it tops no other test's listing of open tasks.
        await close_task(requester.principal, task.id)


async def test_a_budget_that_cannot_fund_another_reward(requester: Requester) -> None:
    task = await new_task(requester, reward="1.00", budget="2.50")
    await new_started(task)
    await new_started(task)
    await expect_unchanged(
        requester.account_id,
        ErrorCode.INSUFFICIENT_FUNDS,
        start_submission((await new_worker()).principal, task.id),
    )
    assert await figures(task.id) == (250, 200, 0, 50)
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN


async def test_a_banned_worker_is_restricted(requester: Requester) -> None:
    other_requester = await new_requester(fund_minor=FUNDED)
    task = await new_task(requester)
    banned, lifted, elsewhere = await new_worker(), await new_worker(), await new_worker()
    started = await new_started(task, banned)

    async def ban(account_id: int, worker: Worker, **extra: object) -> None:
        await Restriction.create(
            account_id=account_id,
            worker_id=worker.id,
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
        requester.account_id, ErrorCode.RESTRICTED, start_submission(banned.principal, task.id)
    )
    # A ban also stops the submission it started before the ban.
    await expect_unchanged(
        requester.account_id,
        ErrorCode.RESTRICTED,
        submit_submission(banned.principal, started.id, answer()),
    )
    # A lifted ban, or another account's ban, does not restrict.
    await new_started(task, lifted)
    await new_started(task, elsewhere)
    await assert_ledger_consistent(requester.account_id)
