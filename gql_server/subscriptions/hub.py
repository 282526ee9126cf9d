"""The one adapter around `broadcaster`: Redis pub/sub when REDIS_URL is set, memory otherwise.

Redis goes through a supervised back end (`SupervisedRedisBackend`) that survives
Redis restarts and then asks every subscriber to resynchronise. On top of broadcaster,
each process subscribes once per channel: one task per channel decodes each message
once and hands the same object to every local subscriber's bounded inbox, so a
subscriber that stops reading loses its backlog (and gets a resync) instead of growing
memory or holding the others up. A message is handed on SLICE inboxes at a time, with a
turn of the event loop between slices, so that the request which caused it (still
publishing, or writing its response) and every other task on the loop wait at most one
slice, never the whole fan-out. Every few seconds one query compares the channels'
latest stored versions with what was received, and hands on what never arrived (a
publish that failed, or a process outside the broadcast, such as `gql-server worker`
on the in-process back end).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from broadcaster import Broadcast, BroadcastBackend
from broadcaster import Event as BroadcastEvent

from gql_server.services import streams
from gql_server.services.streams import Published, StreamMessage
from gql_server.subscriptions.redis_backend import PUBLISH_TIMEOUT, SupervisedRedis

if TYPE_CHECKING:
    from broadcaster._base import Subscriber

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "gqs:"
# Messages a subscriber may have unread before it is skipped to a fresh snapshot.
INBOX_SIZE = 256
# Inboxes handed a message before the other tasks on the event loop get a turn: each one
# woken is a subscriber's step of executing (or reusing) and sending its message.
SLICE = 4
# How often stored messages that were never received are looked for.
CATCH_UP_SECONDS = 10.0
# Stands in a channel for "resynchronise"; never valid JSON, so never a real message.
_RESYNC_MESSAGE: Final = "\x00resync"


class Resync:
    """Start afresh from the database: messages of this stream may have been lost."""


RESYNC: Final = Resync()
Item = StreamMessage | Resync


class SupervisedRedisBackend(BroadcastBackend):
    """broadcaster's back end on a `SupervisedRedis` connection."""

    def __init__(self, url: str) -> None:
        # BroadcastBackend.__init__ only raises NotImplementedError; nothing to call.
        self._received: asyncio.Queue[BroadcastEvent] = asyncio.Queue()
        self.redis = SupervisedRedis(url, on_message=self._deliver, on_resync=self._resync)

    def _deliver(self, channel: str, message: str) -> None:
        self._received.put_nowait(BroadcastEvent(channel, message))

    def _resync(self, channel: str) -> None:
        self._received.put_nowait(BroadcastEvent(channel, _RESYNC_MESSAGE))

    async def connect(self) -> None:
        await self.redis.start()

    async def disconnect(self) -> None:
        await self.redis.stop()

    async def subscribe(self, channel: str) -> None:
        await self.redis.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self.redis.unsubscribe(channel)

    async def publish(self, channel: str, message: str) -> None:
        await self.redis.publish(channel, message)

    async def next_published(self) -> BroadcastEvent:
        # broadcaster's listener takes each event at once and hands it to one queue per
        # channel, which a pump of ours empties at once: this queue stays short.
        return await self._received.get()


class Inbox:
    """One subscriber's queue of stream messages, bounded.

    A list and at most one waiting future instead of an `asyncio.Queue` (four deques and
    an event, about 2.5 KiB even when empty): an idle dashboard holds one per stream.
    Only the subscriber's own task waits on it.
    """

    __slots__ = ("_items", "_size", "_waiter")

    def __init__(self, size: int) -> None:
        self._items: list[Item] = []
        self._size = size
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: Item) -> None:
        if len(self._items) >= self._size:
            # A fresh snapshot replaces everything it has not read.
            self._items = [RESYNC]
            logger.info("a subscriber fell behind; it skips to a fresh snapshot")
        else:
            self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Item:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


@dataclass
class _Channel:
    """This process's one subscription to a channel, shared by its local subscribers."""

    exit_stack: AsyncExitStack
    # The newest version handed to the subscribers (or stored before they joined).
    seen: int
    inboxes: set[Inbox] = field(default_factory=set)
    pump: asyncio.Task[None] | None = None

    async def hand_on(self, item: Item) -> None:
        if isinstance(item, StreamMessage):
            self.seen = max(self.seen, item.version)
        inboxes = list(self.inboxes)
        for start in range(0, len(inboxes), SLICE):
            if start:
                await asyncio.sleep(0)
            for inbox in inboxes[start : start + SLICE]:
                inbox.offer(item)


class BroadcastHub:
    """Publishes domain events to channels and lets subscribers listen to them."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        inbox_size: int = INBOX_SIZE,
        catch_up_seconds: float = CATCH_UP_SECONDS,
    ) -> None:
        self.redis_url = redis_url
        self._backend = SupervisedRedisBackend(redis_url) if redis_url else None
        self._broadcast = (
            Broadcast(backend=self._backend) if self._backend else Broadcast("memory://")
        )
        self._inbox_size = inbox_size
        self._catch_up_seconds = catch_up_seconds
        self._catch_up: asyncio.Task[None] | None = None
        self._channels: dict[str, _Channel] = {}
        # Joining and leaving a channel never interleave (subscribe/unsubscribe order).
        self._lock = asyncio.Lock()
        self._connected = False

    @property
    def kind(self) -> str:
        return "redis" if self.redis_url else "memory"

    async def connect(self) -> None:
        await self._broadcast.connect()
        self._catch_up = asyncio.create_task(self._catch_up_forever())
        self._connected = True

    async def disconnect(self) -> None:
        if not self._connected:
            return
        self._connected = False
        if self._catch_up is not None:
            self._catch_up.cancel()
            with suppress(asyncio.CancelledError):
                await self._catch_up
        async with self._lock:
            for channel in list(self._channels.values()):
                await self._close(channel)
            self._channels.clear()
        await self._broadcast.disconnect()

    async def publish(self, event: Published) -> None:
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await self._broadcast.publish(CHANNEL_PREFIX + event.channel, json.dumps(event.payload))

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[Inbox]:
        """An inbox of the channel's messages (and resync markers), from now on."""
        inbox = Inbox(self._inbox_size)
        await self._join(channel, inbox)
        try:
            yield inbox
        finally:
            await self._leave(channel, inbox)

    async def is_healthy(self) -> bool:
        """Connected, and on Redis listening on a connection that Redis answers (the
        listener pings it: a dead or hung Redis reads unhealthy within
        `redis_backend.HANG_NOTICED_WITHIN`, and this never waits for Redis)."""
        if not self._connected:
            return False
        return self._backend is None or self._backend.redis.is_up

    async def _join(self, name: str, inbox: Inbox) -> None:
        async with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                channel = _Channel(AsyncExitStack(), seen=await streams.latest_version(name))
                subscriber = await channel.exit_stack.enter_async_context(
                    self._broadcast.subscribe(CHANNEL_PREFIX + name)
                )
                channel.pump = asyncio.create_task(self._pump(subscriber, channel))
                self._channels[name] = channel
            channel.inboxes.add(inbox)

    async def _leave(self, name: str, inbox: Inbox) -> None:
        async with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                return
            channel.inboxes.discard(inbox)
            if not channel.inboxes:
                del self._channels[name]
                await self._close(channel)

    @staticmethod
    async def _close(channel: _Channel) -> None:
        if channel.pump is not None:
            channel.pump.cancel()
            with suppress(asyncio.CancelledError):
                await channel.pump
        await channel.exit_stack.aclose()

    @staticmethod
    async def _pump(subscriber: Subscriber, channel: _Channel) -> None:
        while True:
            event = await subscriber.get()
            if event.message == _RESYNC_MESSAGE:
                item: Item = RESYNC
            else:
                try:
                    item = StreamMessage.from_json(json.loads(event.message))
                except (ValueError, KeyError, TypeError):
                    logger.exception("an unreadable message on %s was dropped", event.channel)
                    continue
            await channel.hand_on(item)

    async def _catch_up_forever(self) -> None:
        while True:
            await asyncio.sleep(self._catch_up_seconds)
            try:
                await self._catch_up_once()
            except Exception:
                logger.exception("looking for stream messages that were never received failed")

    async def _catch_up_once(self) -> None:
        channels = dict(self._channels)
        names = list(channels)
        latest: dict[str, int] = {}
        for start in range(0, len(names), 500):
            latest.update(await streams.latest_versions(names[start : start + 500]))
        for name, channel in channels.items():
            newest, seen = latest.get(name, 0), channel.seen
            if newest <= seen:
                continue
            missed = await streams.replay(name, after=seen)
            for item in missed if missed is not None else [RESYNC]:
                await channel.hand_on(item)
            channel.seen = max(channel.seen, newest)


_active: BroadcastHub | None = None


def install_hub(hub: BroadcastHub | None) -> BroadcastHub | None:
    """Make `hub` the one subscriptions listen on; return the one it replaces."""
    global _active
    previous, _active = _active, hub
    return previous


def active_hub() -> BroadcastHub:
    if _active is None:
        raise RuntimeError("no broadcast hub is installed (the app's lifespan installs it)")
    return _active
