"""A subscription's feed, in-process: snapshot then changes without a gap, a lost message
read back from the log, resuming or starting again from a snapshot, slow subscribers
skipped to a snapshot, one decoded message shared by all, handed on slice by slice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_asyncio

from gql_server.models import Task
from gql_server.services import streams
from gql_server.services.streams import DiscardingPublisher, StreamMessage
from gql_server.services.task_lifecycle import pause_task, resume_task
from gql_server.subscriptions.feed import follow
from gql_server.subscriptions.hub import SLICE, BroadcastHub, install_hub
from tests.factories import Requester, new_requester, new_task
from tests.server import WAIT_SECONDS

pytestmark = pytest.mark.usefixtures("app")


async def next_message(feed: AsyncIterator[StreamMessage]) -> StreamMessage:
    async with asyncio.timeout(WAIT_SECONDS):
        return await anext(feed)


async def test_the_feed_starts_with_a_snapshot_then_follows_changes(
    requester: Requester, task: Task
) -> None:
    feed = follow(streams.task_channel(task.id))
    try:
        first = await next_message(feed)
        assert (first.version, first.snapshot, first.state["status"]) == (1, True, "OPEN")
        await pause_task(requester.principal, task.id)
        paused = await next_message(feed)
        assert (paused.version, paused.snapshot, paused.state["status"]) == (2, False, "PAUSED")
    finally:
        await feed.aclose()


async def test_a_lost_message_is_read_back_from_the_log(requester: Requester, task: Task) -> None:
    feed = follow(streams.task_channel(task.id))
    try:
        assert (await next_message(feed)).version == 1
        # Committed and stored, but never broadcast (as if Redis had dropped it).
        previous = streams.install_publisher(DiscardingPublisher())
        try:
            await pause_task(requester.principal, task.id)
        finally:
            streams.install_publisher(previous)
        await resume_task(requester.principal, task.id)
        refilled, live = await next_message(feed), await next_message(feed)
        assert [(m.version, m.snapshot) for m in (refilled, live)] == [(2, False), (3, False)]
        assert [m.changes[0]["change"] for m in (refilled, live)] == ["paused", "resumed"]
    finally:
        await feed.aclose()


async def test_resuming_replays_what_changed_or_starts_from_a_snapshot(
    monkeypatch: pytest.MonkeyPatch, requester: Requester, task: Task
) -> None:
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
    previous_hub, previous_publisher = install_hub(hub), streams.install_publisher(hub)
    try:
        yield hub
    finally:
        streams.install_publisher(previous_publisher)
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
            previous = streams.install_publisher(DiscardingPublisher())
            try:
                await pause_task(requester.principal, task.id)
            finally:
                streams.install_publisher(previous)
            found = await next_message(feed)
            assert (found.version, found.snapshot, found.state["status"]) == (2, False, "PAUSED")
        finally:
            await feed.aclose()


async def test_a_subscriber_that_stops_reading_skips_to_a_snapshot(
    small_hub: BroadcastHub, requester: Requester, task: Task
) -> None:
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
    small_hub: BroadcastHub, requester: Requester, task: Task
) -> None:
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


async def test_a_fan_out_over_several_slices_reaches_every_subscriber_in_order(
    requester: Requester, task: Task
) -> None:
    channel = streams.task_channel(task.id)
    feeds = [follow(channel) for _ in range(3 * SLICE + 1)]
    try:
        for feed in feeds:
            await next_message(feed)
        await pause_task(requester.principal, task.id)
        await resume_task(requester.principal, task.id)
        for feed in feeds:
            paused, resumed = await next_message(feed), await next_message(feed)
            assert (paused.version, resumed.version) == (2, 3)
            assert (paused.state["status"], resumed.state["status"]) == ("PAUSED", "OPEN")
    finally:
        for feed in feeds:
            await feed.aclose()
