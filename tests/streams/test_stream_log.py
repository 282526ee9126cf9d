"""The versioned stream log and a subscription's feed, in-process.

Services write one message per stream and transaction before commit; the feed turns the
broadcast into snapshot-then-changes without a gap, resuming, refilling and resyncing.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_asyncio

from gql_server.models import StreamEvent, Task
from gql_server.models.enums import ReviewDecision, TaskStatus
from gql_server.services import events, streams
from gql_server.services.bulk_review import bulk_review
from gql_server.services.events import DiscardingPublisher, Event, unit_of_work
from gql_server.services.streams import StreamMessage
from gql_server.services.submissions import approve_submission, start_submission, submit_submission
from gql_server.services.task_lifecycle import pause_task, resume_task
from gql_server.subscriptions.feed import follow
from gql_server.subscriptions.hub import BroadcastHub, install_hub
from tests.factories import answer, new_requester, new_task, new_worker
from tests.server import WAIT_SECONDS

pytestmark = pytest.mark.usefixtures("app")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def recorded() -> Any:
    recorder = Recorder()
    previous = events.install_publisher(recorder)
    yield recorder
    events.install_publisher(previous)


async def log(channel: str) -> list[StreamMessage]:
    rows = await StreamEvent.filter(stream=channel).order_by("version")
    assert [row.version for row in rows] == list(range(1, len(rows) + 1))
    return [StreamMessage.from_json(row.payload) for row in rows]


async def next_message(feed: AsyncIterator[StreamMessage]) -> StreamMessage:
    async with asyncio.timeout(WAIT_SECONDS):
        return await anext(feed)


# --- the log ------------------------------------------------------------------------------


async def test_each_transaction_writes_one_message_per_stream_with_absolute_state(
    recorded: Recorder,
) -> None:
    requester = await new_requester()
    task = await new_task(requester, reward="1.00", budget="1.00")
    worker = await new_worker()
    submission = await start_submission(worker, task.id)
    await submit_submission(worker, submission.id, answer())
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


async def test_a_rolled_back_transaction_stores_and_publishes_nothing(recorded: Recorder) -> None:
    requester = await new_requester()
    task = await new_task(requester)
    channel = streams.task_channel(task.id)
    before = await log(channel)
    recorded.events.clear()
    with pytest.raises(RuntimeError):
        async with unit_of_work() as work:
            await Task.filter(id=task.id).update(status=TaskStatus.PAUSED)
            streams.emit_status(work, await Task.get(id=task.id), "paused")
            raise RuntimeError("something failed after the change")
    assert (await Task.get(id=task.id)).status == TaskStatus.OPEN
    assert await log(channel) == before
    assert recorded.events == []


async def test_a_nested_unit_of_work_publishes_with_the_outer_one(recorded: Recorder) -> None:
    requester = await new_requester()
    task = await new_task(requester)
    recorded.events.clear()
    async with unit_of_work() as outer:
        streams.emit_status(outer, task, "paused")
        async with unit_of_work() as inner:
            streams.emit_rule_fired(inner, task.id, rule_id=7, action="BAN", worker_id=3)
        with pytest.raises(RuntimeError):
            async with unit_of_work() as failed:
                streams.emit_status(failed, task, "resumed")
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
        submission = await start_submission(worker, task.id)
        await submit_submission(worker, submission.id, answer())
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
async def test_concurrent_writers_get_consecutive_versions_in_commit_order() -> None:
    requester = await new_requester()
    task = await new_task(requester, reward="0.10", budget="100.00")
    workers = [await new_worker() for _ in range(40)]
    started = await asyncio.gather(*(start_submission(w, task.id) for w in workers))
    await asyncio.gather(
        *(submit_submission(w, s.id, answer()) for w, s in zip(workers, started, strict=True))
    )
    # Versions have no gaps (checked by `log`) and each state includes all earlier ones.
    budget = await log(streams.task_budget_channel(task.id))
    assert [m.state["committed_minor"] for m in budget[1:]] == [10 * n for n in range(1, 41)]
    queue = await log(streams.task_queue_channel(task.id))
    assert [m.state["length"] for m in queue] == list(range(1, 41))
    account = await log(streams.account_budget_channel(requester.account_id))
    assert Counter(c["change"] for m in account for c in m.changes)["started"] == 40


# --- the feed -----------------------------------------------------------------------------


async def test_the_feed_starts_with_a_snapshot_then_follows_changes() -> None:
    requester = await new_requester()
    task = await new_task(requester)
    feed = follow(streams.task_channel(task.id))
    try:
        first = await next_message(feed)
        assert (first.version, first.snapshot, first.state["status"]) == (1, True, "OPEN")
        await pause_task(requester.principal, task.id)
        paused = await next_message(feed)
        assert (paused.version, paused.snapshot, paused.state["status"]) == (2, False, "PAUSED")
    finally:
        await feed.aclose()


async def test_a_lost_message_is_read_back_from_the_log() -> None:
    requester = await new_requester()
    task = await new_task(requester)
    feed = follow(streams.task_channel(task.id))
    try:
        assert (await next_message(feed)).version == 1
        # Committed and stored, but never broadcast (as if Redis had dropped it).
        previous = events.install_publisher(DiscardingPublisher())
        try:
            await pause_task(requester.principal, task.id)
        finally:
            events.install_publisher(previous)
        await resume_task(requester.principal, task.id)
        refilled, live = await next_message(feed), await next_message(feed)
        assert [(m.version, m.snapshot) for m in (refilled, live)] == [(2, False), (3, False)]
        assert [m.changes[0]["change"] for m in (refilled, live)] == ["paused", "resumed"]
    finally:
        await feed.aclose()


async def test_resuming_replays_what_changed_or_starts_from_a_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requester = await new_requester()
    task = await new_task(requester)
    channel = streams.task_channel(task.id)
    await pause_task(requester.principal, task.id)
    await resume_task(requester.principal, task.id)

    feed = follow(channel, resume_from=1)
    try:
        replayed = [await next_message(feed), await next_message(feed)]
        assert [(m.version, m.snapshot) for m in replayed] == [(2, False), (3, False)]
    finally:
        await feed.aclose()

    monkeypatch.setattr(streams, "KEEP_VERSIONS", 1)
    monkeypatch.setattr(streams, "PRUNE_EVERY", 1)
    await pause_task(requester.principal, task.id)
    feed = follow(channel, resume_from=1)
    try:
        fresh = await next_message(feed)
        assert (fresh.version, fresh.snapshot, fresh.state["status"]) == (4, True, "PAUSED")
    finally:
        await feed.aclose()


@asynccontextmanager
async def installed_hub(**options: Any) -> AsyncIterator[BroadcastHub]:
    """An in-process broadcast of its own, for subscribers and publishers alike."""
    hub = BroadcastHub(None, **options)
    await hub.connect()
    previous_hub, previous_publisher = install_hub(hub), events.install_publisher(hub)
    try:
        yield hub
    finally:
        events.install_publisher(previous_publisher)
        install_hub(previous_hub)
        await hub.disconnect()


@pytest_asyncio.fixture
async def small_hub() -> AsyncIterator[BroadcastHub]:
    """Subscribers may fall only two messages behind."""
    async with installed_hub(inbox_size=2) as hub:
        yield hub


async def test_a_message_never_broadcast_is_still_delivered() -> None:
    async with installed_hub(catch_up_seconds=0.05):
        requester = await new_requester()
        task = await new_task(requester)
        feed = follow(streams.task_channel(task.id))
        try:
            assert (await next_message(feed)).version == 1
            # Stored, but never broadcast (a failed publish, or another process without
            # Redis): the hub finds it in the log, even though no later message shows a gap.
            previous = events.install_publisher(DiscardingPublisher())
            try:
                await pause_task(requester.principal, task.id)
            finally:
                events.install_publisher(previous)
            found = await next_message(feed)
            assert (found.version, found.snapshot, found.state["status"]) == (2, False, "PAUSED")
        finally:
            await feed.aclose()


async def test_a_subscriber_that_stops_reading_skips_to_a_snapshot(
    small_hub: BroadcastHub,
) -> None:
    requester = await new_requester()
    task = await new_task(requester)
    channel = streams.task_channel(task.id)
    slow, fast = follow(channel), follow(channel)
    try:
        assert (await next_message(slow)).version == 1
        assert (await next_message(fast)).version == 1
        # The one that reads keeps up, every message in order, not slowed by the other.
        for version in range(2, 8):
            change = pause_task if version % 2 == 0 else resume_task
            await change(requester.principal, task.id)
            assert (await next_message(fast)).version == version
        # The one that did not read lost its backlog and starts again from the database.
        caught_up = await next_message(slow)
        assert (caught_up.version, caught_up.snapshot, caught_up.state["status"]) == (
            7,
            True,
            "OPEN",
        )
    finally:
        await slow.aclose()
        await fast.aclose()


async def test_subscribers_of_one_stream_share_each_decoded_message(
    small_hub: BroadcastHub,
) -> None:
    requester = await new_requester()
    task = await new_task(requester)
    channel = streams.task_channel(task.id)
    feeds = [follow(channel) for _ in range(3)]
    try:
        for feed in feeds:
            await next_message(feed)
        await pause_task(requester.principal, task.id)
        received = [await next_message(feed) for feed in feeds]
        assert all(message is received[0] for message in received)
    finally:
        for feed in feeds:
            await feed.aclose()
