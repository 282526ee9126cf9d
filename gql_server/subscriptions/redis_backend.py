"""A Redis pub/sub connection that outlives Redis going away.

redis-py's pub/sub does not come back once its connection breaks, and broadcaster's own
Redis back end dies silently with it (encode/broadcaster#144). Here one supervisor task
owns the subscribing connection: when it fails, the supervisor reconnects with capped,
jittered exponential backoff, subscribes again to every channel, and once Redis confirms
a channel, reports it through `on_resync`, because whatever was published while the
connection was down is lost.

A Redis that hangs instead of dying (a stopped process, a network path that drops packets
without a reset) leaves the connection open with nothing arriving on it, and redis-py's
own pub/sub health check only sends its PING, never waits for the answer. So the listener
pings Redis itself after PING_AFTER seconds without hearing from it and gives the
connection up when PONG_TIMEOUT more pass without an answer: a hung Redis is noticed
within HANG_NOTICED_WITHIN (4 s), and treated as one that died (reconnect, then
resynchronise). The connection counts as up only once Redis has answered on it, so a
Redis that still accepts connections while it hangs is not reported up.
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
# The listener pings Redis after this long without a message from it...
PING_AFTER = 1.0
# ...and gives the connection up when the answer takes longer than this.
PONG_TIMEOUT = 2.0
# How long one read waits for a message; the checks above run between reads.
READ_TIMEOUT = 0.5
# From the last thing Redis sent to the listener giving the connection up, at most (each
# check waits for a read to end).
HANG_NOTICED_WITHIN = PING_AFTER + PONG_TIMEOUT + 2 * READ_TIMEOUT


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
        # Bytes, not decoded replies: redis-py recognises the answer to a PING on a pub/sub
        # connection only as bytes. The pings are ours (see the module's docstring).
        self._listening = aioredis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CONNECT_TIMEOUT,
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
        # Waiting for Redis to confirm a subscribe, and an unsubscribe, by channel.
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._departures: dict[str, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        # Set once Redis has answered on the current connection.
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
        """Listening, on a connection that Redis has answered within HANG_NOTICED_WITHIN."""
        return self._up.is_set()

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
        """Stop listening to `channel`; returns once Redis confirmed it (nothing more of it
        arrives), or when Redis is away."""
        async with self._lock:
            self._channels.discard(channel)
            self._resync_due.discard(channel)
            pubsub = self._pubsub
            if pubsub is None:
                return
            left = asyncio.get_running_loop().create_future()
            self._departures[channel] = left
            try:
                await pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                return  # a broken connection: nothing of the channel arrives any more
        with suppress(TimeoutError):
            await asyncio.wait_for(left, CONFIRM_TIMEOUT)

    async def publish(self, channel: str, message: str) -> None:
        await self._publishing.publish(channel, message)

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
                # Answered by a pong, or the subscribe confirmations, whichever comes first.
                await pubsub.ping()
            await self._read(pubsub, len(channels))
        finally:
            self._pubsub = None
            self._up.clear()
            for waiters in (self._confirmations, self._departures):
                for waiter in waiters.values():
                    if not waiter.done():
                        waiter.set_result(None)
                waiters.clear()
            with suppress(RedisError, OSError):
                await pubsub.aclose()

    async def _read(self, pubsub: PubSub, channels: int) -> None:
        """Hand on what arrives until the connection fails or Redis stops answering."""
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()  # `_listen` has just sent a ping
        pinging = True
        while not self._stopping:
            message = await pubsub.get_message(timeout=READ_TIMEOUT)
            now = loop.time()
            if message is not None:
                heard = now
                if not self._up.is_set():
                    self._connections += 1
                    self._up.set()
                    logger.info("Redis pub/sub connected (%d channel(s))", channels)
                if message["type"] == "pong":
                    pinging = False
                else:
                    self._handle(message)
            elif pinging:
                if now - pinged > PONG_TIMEOUT:
                    raise TimeoutError(f"Redis did not answer a ping within {PONG_TIMEOUT} s")
            elif now - heard >= PING_AFTER:
                await pubsub.ping()
                pinged, pinging = now, True

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"].decode()
        if kind == "message":
            self._on_message(channel, message["data"].decode())
        elif kind == "subscribe":
            waiter = self._confirmations.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if channel in self._resync_due:
                self._resync_due.discard(channel)
                self._on_resync(channel)
        elif kind == "unsubscribe":
            waiter = self._departures.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
