"""The versioned stream log, in-process: the changes of a transaction are stored with it
and turned after commit into one message per stream, with absolute state; nothing of a
rolled-back transaction is stored or published; concurrent writers get consecutive
versions, one message covering several commits where they overlap; changes a dead
process left behind are sequenced by the sweep; old messages are pruned."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from gql_server.models import StreamChange, StreamEvent, Task
from gql_server.models.enums import ReviewDecision, TaskChange, TaskStatus
from gql_server.services import streams
from gql_server.services.events import RuleFired, TaskStatusChanged, unit_of_work
from gql_server.services.review import approve_submission, bulk_review
from gql_server.services.streams import Published, StreamMessage
from gql_server.services.submissions import start_submission, submit_submission
from gql_server.services.task_lifecycle import pause_task, resume_task
from tests.factories import Requester, answer, new_requester, new_task, new_worker

pytestmark = pytest.mark.usefixtures("app")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Published] = []

    async def publish(self, event: Published) -> None:
        self.events.append(event)


@pytest.fixture
def recorded() -> Any:
    recorder = Recorder()
    previous = streams.install_publisher(recorder)
    yield recorder
    streams.install_publisher(previous)


async def log(channel: str) -> list[StreamMessage]:
    rows = await StreamEvent.filter(stream=channel).order_by("version")
    assert [row.version for row in rows] == list(range(1, len(rows) + 1))
    return [StreamMessage.from_json(row.payload) for row in rows]


async def test_each_transaction_writes_one_message_per_stream_with_absolute_state(
    recorded: Recorder, requester: Requester
) -> None:
    task = await new_task(requester, reward="1.00", budget="1.00")
    worker = await new_worker()
    submission = await start_submission(worker.principal, task.id)
    await submit_submission(worker.principal, submission.id, answer())
    recorded.events.clear()
    # Approving the only reward also closes the task: one message says both.
    await approve_submission(requester.principal, submission.id)

    budget = await log(streams.task_budget_channel(task.id))
    assert [[c["change"] for c in m.changes] for m in budget] == [
        ["published"],
        ["started"],
        ["approved", "closed"],
    ]
    assert budget[-1].state == {
        "task_id": task.id,
        "status": "CLOSED",
        "budget_minor": 100,
        "committed_minor": 0,
        "spent_minor": 100,
        "remaining_minor": 0,
    }
    assert [m.state["length"] for m in await log(streams.task_queue_channel(task.id))] == [1, 0]
    status = await log(streams.task_channel(task.id))
    assert status[-1].changes == (
        {
            "change": "closed",
            "close_reason": "BUDGET_EXHAUSTED",
            "rule_id": None,
            "action": None,
            "worker_id": None,
            "submission_id": None,
        },
    )
    account = await log(streams.account_budget_channel(requester.account_id))
    assert account[-1].state["balance_minor"] == 100_000 - 100
    # What was published is what was stored, one message per stream, after commit.
    published = {e.channel: e.payload for e in recorded.events}
    assert len(published) == len(recorded.events) == 5
    assert published[streams.task_budget_channel(task.id)] == budget[-1].to_json()


async def test_a_rolled_back_transaction_stores_and_publishes_nothing(
    recorded: Recorder, requester: Requester, task: Task
) -> None:
    channel = streams.task_channel(task.id)
    before = await log(channel)
    recorded.events.clear()
    with pytest.raises(RuntimeError):
        async with unit_of_work() as work:
            await Task.filter(id=task.id).update(status=TaskStatus.PAUSED)
            await work.raise_event(TaskStatusChanged(task.account_id, task.id, TaskChange.PAUSED))
            raise RuntimeError("something failed after the change")
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN
    assert await log(channel) == before
    assert recorded.events == []


async def test_a_nested_unit_of_work_publishes_with_the_outer_one(
    recorded: Recorder, requester: Requester, task: Task
) -> None:
    recorded.events.clear()
    async with unit_of_work() as outer:
        await outer.raise_event(TaskStatusChanged(task.account_id, task.id, TaskChange.PAUSED))
        async with unit_of_work() as inner:
            await inner.raise_event(
                RuleFired(task.id, rule_id=7, action="BAN", worker_id=3, submission_id=None)
            )
        with pytest.raises(RuntimeError):
            async with unit_of_work() as failed:
                await failed.raise_event(
                    TaskStatusChanged(task.account_id, task.id, TaskChange.RESUMED)
                )
                raise RuntimeError
        assert recorded.events == []
    (event,) = recorded.events
    message = StreamMessage.from_json(event.payload)
    assert [c["change"] for c in message.changes] == ["paused", "rule_fired"]
    assert message.changes[1]["rule_id"] == 7 and message.changes[1]["worker_id"] == 3


async def test_a_bulk_change_too_long_to_list_is_a_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "MAX_CHANGES", 2)
    requester = await new_requester()
    task = await new_task(requester)
    ids = []
    for _ in range(3):
        worker = await new_worker()
        submission = await start_submission(worker.principal, task.id)
        await submit_submission(worker.principal, submission.id, answer())
        ids.append(submission.id)
    await bulk_review(requester.principal, ids, ReviewDecision.APPROVED, None)
    last = (await log(streams.task_queue_channel(task.id)))[-1]
    assert (last.snapshot, last.changes, last.state["length"]) == (True, (), 0)


async def test_old_messages_are_pruned_and_replay_says_when_it_cannot_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "KEEP_VERSIONS", 2)
    monkeypatch.setattr(streams, "PRUNE_EVERY", 1)
    requester = await new_requester()
    task = await new_task(requester)
    for _ in range(2):
        await pause_task(requester.principal, task.id)
        await resume_task(requester.principal, task.id)
    channel = streams.task_channel(task.id)
    kept = await StreamEvent.filter(stream=channel).order_by("version").values_list("version")
    assert [v for (v,) in kept] == [4, 5]
    assert await streams.replay(channel, after=0) is None
    assert [m.version for m in await streams.replay(channel, after=3) or []] == [4, 5]
    assert await streams.replay(channel, after=5) == []
    assert await streams.replay(channel, after=6) is None


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="concurrent writers need PostgreSQL: SQLite serves one connection",
)
async def test_concurrent_writers_get_consecutive_versions_in_commit_order(
    requester: Requester,
) -> None:
    task = await new_task(requester, reward="0.10", budget="100.00")
    workers = [await new_worker() for _ in range(40)]
    started = await asyncio.gather(*(start_submission(w.principal, task.id) for w in workers))
    await asyncio.gather(
        *(
            submit_submission(w.principal, s.id, answer())
            for w, s in zip(workers, started, strict=True)
        )
    )
    # Versions have no gaps (checked by `log`); each message's state includes every change
    # it lists and every earlier message's, and nothing is listed twice or lost.
    budget = await log(streams.task_budget_channel(task.id))
    listed = 0
    for message in budget[1:]:
        listed += len(message.changes)
        assert message.state["committed_minor"] >= 10 * listed
    assert listed == 40 and budget[-1].state["committed_minor"] == 400
    queue = await log(streams.task_queue_channel(task.id))
    assert [c["change"] for m in queue for c in m.changes] == ["added"] * 40
    assert [m.state["length"] for m in queue] == sorted(m.state["length"] for m in queue)
    assert queue[-1].state["length"] == 40
    account = await log(streams.account_budget_channel(requester.account_id))
    assert Counter(c["change"] for m in account for c in m.changes)["started"] == 40
    ours = [streams.task_budget_channel(task.id), streams.task_queue_channel(task.id)]
    assert not await StreamChange.exists(stream__in=ours)


async def test_changes_a_dead_process_left_without_a_version_are_sequenced_by_the_sweep(
    recorded: Recorder, requester: Requester, task: Task, frozen: Any
) -> None:
    channel = streams.task_channel(task.id)
    before = len(await log(channel))
    # What a process that died between its commit and its sequencing pass leaves behind.
    await StreamChange.create(stream=channel, payload={"change": "paused", "close_reason": None})
    await streams.sequence_stragglers()
    assert len(await log(channel)) == before  # it may still be on its way
    frozen.advance(timedelta(seconds=streams.STRAGGLER_SECONDS + 1))
    assert await streams.sequence_stragglers() >= 1
    messages = await log(channel)
    assert len(messages) == before + 1 and messages[-1].changes[0]["change"] == "paused"
    assert channel in [event.channel for event in recorded.events]
    assert not await StreamChange.exists(stream=channel)
