"""The limits of talking with workers hold when requests arrive at once (PostgreSQL, many
connections): a worker's questions per task and day, one announcement per task and day."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable

import pytest

from gql_server.models import Announcement, Thread
from gql_server.models.enums import MemberRole
from gql_server.services import conversations
from gql_server.services.errors import ErrorCode, UseCaseError
from tests.factories import Requester, Worker, new_submitted, new_task

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="concurrency needs PostgreSQL: SQLite serves one connection",
)


async def _codes(calls: list[Awaitable[object]]) -> list[str]:
    """The outcome of each call: "ok", or the code of its one error."""
    outcomes = []
    for result in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(result, UseCaseError):
            outcomes.append(result.errors[0].code.value)
        elif isinstance(result, BaseException):
            raise result
        else:
            outcomes.append("ok")
    return outcomes


async def test_questions_sent_at_once_stop_at_the_daily_limit(
    requester: Requester, worker: Worker
) -> None:
    task = await new_task(requester)
    limit = conversations.QUESTIONS_PER_TASK_PER_DAY
    outcomes = await _codes(
        [
            conversations.ask_question(worker.principal, task.id, None, f"Question {n}")
            for n in range(limit + 4)
        ]
    )
    assert outcomes.count("ok") == limit
    assert outcomes.count(ErrorCode.LIMIT_REACHED.value) == 4
    assert await Thread.filter(worker_id=worker.id, task_id=task.id).count() == limit


async def test_announcements_sent_at_once_make_one(requester: Requester) -> None:
    task = await new_task(requester)
    await new_submitted(task)
    managers = [await requester.member(MemberRole.MANAGER) for _ in range(4)]
    outcomes = await _codes(
        [
            conversations.send_announcement(manager.principal, task.id, f"From {n}")
            for n, manager in enumerate(managers)
        ]
    )
    assert sorted(outcomes) == ["LIMIT_REACHED"] * 3 + ["ok"]
    assert await Announcement.filter(task_id=task.id).count() == 1
