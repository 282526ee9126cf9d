"""Domain events, published only after the transaction that produced them commits.

Services collect events in a unit of work. Before the transaction commits, the events
become versioned stream messages (`streams.seal`, in the same transaction); after it
commits they go to the publisher that the subscriptions layer installs. Nothing here
knows how they travel.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from gql_server.services import streams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    channel: str
    payload: dict[str, Any]


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> None: ...


class DiscardingPublisher:
    """Used until a real publisher is installed (commands that serve no subscribers)."""

    async def publish(self, event: Event) -> None:
        return None


_publisher: EventPublisher = DiscardingPublisher()


def install_publisher(publisher: EventPublisher) -> EventPublisher:
    """Install `publisher` and return the one it replaces."""
    global _publisher
    previous, _publisher = _publisher, publisher
    return previous


@dataclass
class UnitOfWork:
    events: list[Event] = field(default_factory=list)

    def emit(self, channel: str, payload: dict[str, Any]) -> None:
        self.events.append(Event(channel, payload))


_current: ContextVar[UnitOfWork | None] = ContextVar("unit_of_work", default=None)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    """One transaction; its events go out after commit, and never if it rolls back.

    Inside another unit of work it is part of that one: its events join the outer ones
    if it succeeds, so nothing is published before the outermost transaction commits.
    """
    outer = _current.get()
    work = UnitOfWork()
    token = _current.set(work)
    try:
        async with in_transaction():
            yield work
            messages = await streams.seal(work.events) if outer is None and work.events else []
    finally:
        _current.reset(token)
    if outer is not None:
        outer.events.extend(work.events)
        return
    for channel, message in messages:
        try:
            await _publisher.publish(Event(channel, message.to_json()))
        except Exception as error:
            # The change is committed and its message stored: subscribers see the version
            # gap at their stream's next message and read what they missed from the log.
            # The rest would most likely fail the same way, so the request does not wait.
            logger.warning("publishing %s failed after commit: %r", channel, error)
            break
