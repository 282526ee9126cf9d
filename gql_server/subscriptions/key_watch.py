"""Open websockets end when the API key they signed in with stops being usable.

A connection is authenticated once, at `connection_init`; a key revoked, expired, rotated
past its grace period, or of a member who was removed, must not keep receiving live
data. Each process keeps its websockets by key (weakly: a closed connection leaves on its
own) and every `CHECK_SECONDS` reads, in one query, which of those keys are still usable,
closing the connections of the others with code 4403. So an open subscription ends within
`CHECK_SECONDS` of the change on every process, while HTTP requests fail from the next one.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from contextlib import suppress
from typing import Protocol

from gql_server.services import api_keys

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
# graphql-transport-ws leaves 4400-4499 to the server; 4403 reads as "Forbidden".
CLOSE_CODE = 4403
CLOSE_REASON = "The API key is no longer valid"


class Closable(Protocol):
    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class KeyWatch:
    """This process's websockets by the key they signed in with."""

    def __init__(self, check_seconds: float = CHECK_SECONDS) -> None:
        self.check_seconds = check_seconds
        self._by_key: dict[int, weakref.WeakSet[Closable]] = {}

    def add(self, key_id: int, connection: Closable) -> None:
        self._by_key.setdefault(key_id, weakref.WeakSet()).add(connection)

    async def close_unusable(self) -> int:
        """Close the connections whose key is no longer usable; return how many."""
        for key_id in [k for k, open_now in self._by_key.items() if not open_now]:
            del self._by_key[key_id]
        if not self._by_key:
            return 0
        usable = await api_keys.usable_keys(list(self._by_key))
        closed = 0
        for key_id in set(self._by_key) - usable:
            for connection in list(self._by_key.pop(key_id)):
                # Already closing or closed by the client: nothing left to end.
                with suppress(Exception):
                    await connection.close(code=CLOSE_CODE, reason=CLOSE_REASON)
                    closed += 1
        return closed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.close_unusable()
            except Exception:
                logger.exception("checking the keys of open websockets failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.check_seconds)
