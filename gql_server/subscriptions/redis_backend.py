"""A Redis pub/sub connection that outlives Redis going away.

redis-py's pub/sub does not come back once its connection breaks, and broadcaster's own
Redis back end dies silently with it (encode/broadcaster#144). Here one supervisor task
owns the subscribing connection: when it fails, the supervisor reconnects with capped,
jittered exponential backoff, subscribes again to every channel, and once Redis confirms
a channel, reports it through `on_resync`, because whatever was published while the
connection was down is lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 1.0
# Publishing happens in requests, after commit: it must fail fast when Redis is away.
PUBLISH_TIMEOUT = 0.5
# How long a subscriber waits for Redis to confirm its channel before going on anyway
# (if the connection broke meanwhile, the reconnection resynchronises it).
CONFIRM_TIMEOUT = 2.0
# The listening connection pings Redis this often, so a dead one is noticed.
HEALTH_CHECK_SECONDS = 5
READ_TIMEOUT = 1.0


class SupervisedRedis:
    def __init__(
        self,
        url: str,
        *,
        on_message: Callable[[str, str], None],
        on_resync: Callable[[str], None],
        min_backoff: float = 0.05,
        max_backoff: float = 2.0,
    ) -> None:
        self._on_message = on_message
        self._on_resync = on_resync
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        # No retries inside redis-py: a failure must reach the supervisor, which resyncs.
        self._listening = aioredis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CONNECT_TIMEOUT,
            health_check_interval=HEALTH_CHECK_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        # One retry: after Redis restarts, the first use of a pooled connection fails.
        self._publishing = aioredis.from_url(
            url,
            socket_connect_timeout=PUBLISH_TIMEOUT,
            socket_timeout=PUBLISH_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
        )
        self._channels: set[str] = set()
        self._resync_due: set[str] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        self._up = asyncio.Event()
        self._connections = 0
        # Subscribing, unsubscribing and (re)connecting never interleave.
        self._lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        # Set by `stop`. The loops check it too, because a cancellation that lands while
        # redis-py's read times out can be turned into that timeout and lost (asyncio
        # timeouts and cancellation racing), which left `stop` waiting forever.
        self._stopping = False

    @property
    def is_up(self) -> bool:
        return self._pubsub is not None

    async def start(self, wait: float = CONNECT_TIMEOUT) -> None:
        """Start supervising; wait up to `wait` seconds for a first connection."""
        self._stopping = False
        self._supervisor = asyncio.create_task(self._supervise())
        with suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), wait)
        if not self.is_up:
            logger.warning("Redis is not reachable yet; live streams resume once it is")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with suppress(asyncio.CancelledError):
                await self._supervisor
        await self._listening.aclose()
        await self._publishing.aclose()

    async def subscribe(self, channel: str) -> None:
        """Listen to `channel`; returns once Redis confirmed it, or when Redis is away."""
        async with self._lock:
            self._channels.add(channel)
            pubsub = self._pubsub
            if pubsub is None:
                return  # the reconnection subscribes it, then asks for a resync
            confirmed = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = confirmed
            try:
                await pubsub.subscribe(channel)
            except (RedisError, OSError):
                return  # the supervisor sees the broken connection and resyncs
        with suppress(TimeoutError):
            await asyncio.wait_for(confirmed, CONFIRM_TIMEOUT)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._channels.discard(channel)
            self._resync_due.discard(channel)
            if self._pubsub is not None:
                with suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: str) -> None:
        await self._publishing.publish(channel, message)

    async def ping(self) -> bool:
        try:
            return bool(await self._publishing.ping())
        except (RedisError, OSError):
            return False

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            connections = self._connections
            try:
                await self._listen()
            except (RedisError, OSError) as error:
                if self._connections != connections:
                    logger.warning("Redis pub/sub connection lost (%r); reconnecting", error)
            except Exception:
                # Whatever it was, giving up would leave every subscriber hanging.
                logger.exception("Redis pub/sub listener failed; reconnecting")
            # Back off from the first attempt again after a connection that worked.
            failures = 1 if self._connections != connections else failures + 1
            delay = min(self._max_backoff, self._min_backoff * 2 ** min(failures, 16))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _listen(self) -> None:
        pubsub = self._listening.pubsub()
        try:
            async with self._lock:
                await pubsub.connect()
                channels = set(self._channels)
                if channels:
                    await pubsub.subscribe(*channels)
                # Anything published to these while disconnected is lost.
                self._resync_due = channels
                self._pubsub = pubsub
                self._connections += 1
            self._up.set()
            logger.info("Redis pub/sub connected (%d channel(s))", len(channels))
            while not self._stopping:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                if message is not None:
                    self._handle(message)
        finally:
            self._pubsub = None
            self._up.clear()
            for waiter in self._confirmations.values():
                if not waiter.done():
                    waiter.set_result(None)
            self._confirmations.clear()
            with suppress(RedisError, OSError):
                await pubsub.aclose()

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            self._on_message(channel, message["data"])
        elif kind == "subscribe":
            waiter = self._confirmations.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if channel in self._resync_due:
                self._resync_due.discard(channel)
                self._on_resync(channel)
