"""The supervised Redis back end against a private redis-server that the tests stop and start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gql_server.services.streams import Published, StreamMessage
from gql_server.subscriptions.hub import RESYNC, BroadcastHub, Inbox, Item
from tests.server import WAIT_SECONDS, RedisServer, redis_server

# The hub reads a channel's stored versions when it starts listening: a task that no test
# has, so that nothing else is stored under it.
CHANNEL = "queue:task:999999999"
pytestmark = pytest.mark.usefixtures("database")


def message(version: int) -> Published:
    body = StreamMessage(version, False, {"length": version}, ({"change": "added"},))
    return Published(CHANNEL, body.to_json())


async def received(inbox: Inbox) -> Item:
    async with asyncio.timeout(WAIT_SECONDS):
        return await inbox.get()


async def version_of(inbox: Inbox) -> int:
    item = await received(inbox)
    assert isinstance(item, StreamMessage), item
    return item.version


async def until_health(hub: BroadcastHub, healthy: bool) -> None:
    """Poll until the hub has noticed what happened to the Redis process."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            if await hub.is_healthy() == healthy:
                return
            await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


@pytest_asyncio.fixture
async def hub(redis: RedisServer) -> AsyncIterator[BroadcastHub]:
    hub = BroadcastHub(redis.url)
    await hub.connect()
    try:
        yield hub
    finally:
        await hub.disconnect()


async def test_messages_reach_every_process_through_redis(
    redis: RedisServer, hub: BroadcastHub
) -> None:
    other = BroadcastHub(redis.url)
    await other.connect()
    try:
        async with hub.listen(CHANNEL) as here, other.listen(CHANNEL) as there:
            await other.publish(message(1))
            assert (
                await received(here)
                == await received(there)
                == StreamMessage.from_json(message(1).payload)
            )
    finally:
        await other.disconnect()
    assert await hub.is_healthy()


async def test_after_redis_restarts_subscribers_resync_then_get_every_message(
    redis: RedisServer, hub: BroadcastHub
) -> None:
    async with hub.listen(CHANNEL) as inbox:
        await hub.publish(message(1))
        assert await version_of(inbox) == 1

        redis.stop()
        await until_health(hub, False)
        # Publishing fails, and fails fast, while Redis is away (requests do this after commit).
        began = time.monotonic()
        with pytest.raises((RedisError, OSError, TimeoutError)):
            await hub.publish(message(2))
        assert time.monotonic() - began < 2

        redis.start()
        assert await received(inbox) is RESYNC
        await until_health(hub, True)
        for version in (3, 4):
            await hub.publish(message(version))
        assert [await version_of(inbox), await version_of(inbox)] == [3, 4]


async def test_a_subscriber_that_joined_while_redis_was_away_resyncs_when_it_returns(
    tmp_path: Path,
) -> None:
    redis = RedisServer(tmp_path)
    hub = BroadcastHub(redis.url)
    await hub.connect()  # Redis is not running: the server starts anyway, degraded
    try:
        assert not await hub.is_healthy()
        async with hub.listen(CHANNEL) as inbox:
            redis.start()
            assert await received(inbox) is RESYNC
            await hub.publish(message(1))
            assert await version_of(inbox) == 1
    finally:
        await hub.disconnect()
        redis.stop()


async def test_leaving_the_last_subscriber_unsubscribes_the_channel(
    redis: RedisServer, hub: BroadcastHub
) -> None:
    client = aioredis.from_url(redis.url)
    try:
        name = f"gqs:{CHANNEL}"
        async with hub.listen(CHANNEL), hub.listen(CHANNEL):
            assert await client.pubsub_numsub(name) == [(name.encode(), 1)]
        assert await client.pubsub_numsub(name) == [(name.encode(), 0)]
    finally:
        await client.aclose()
