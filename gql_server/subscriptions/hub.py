"""The one adapter around `broadcaster`: Redis pub/sub when REDIS_URL is set, memory otherwise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from broadcaster import Broadcast

from gql_server.services.events import Event

CHANNEL_PREFIX = "gqs:"


class BroadcastHub:
    """Publishes domain events to channels and lets subscribers listen to them."""

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self._broadcast = Broadcast(redis_url or "memory://")
        self._connected = False

    @property
    def kind(self) -> str:
        return "redis" if self.redis_url else "memory"

    async def connect(self) -> None:
        await self._broadcast.connect()
        self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            await self._broadcast.disconnect()

    async def publish(self, event: Event) -> None:
        await self._broadcast.publish(CHANNEL_PREFIX + event.channel, json.dumps(event.payload))

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async with self._broadcast.subscribe(CHANNEL_PREFIX + channel) as subscriber:

            async def messages() -> AsyncIterator[dict[str, Any]]:
                async for event in subscriber:
                    yield json.loads(event.message)

            yield messages()

    async def is_healthy(self) -> bool:
        if not self._connected:
            return False
        if self.redis_url is None:
            return True
        client = aioredis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(await client.ping())
        except (aioredis.RedisError, OSError):
            return False
        finally:
            await client.aclose()
