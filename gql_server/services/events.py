"""Domain events, published only after the transaction that produced them commits.

Services collect events in a unit of work; the subscriptions layer installs the publisher
that carries them to live streams. Nothing here knows how they travel.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from tortoise.transactions import in_transaction

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


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    """One transaction; its events go out after commit, and never if it rolls back."""
    work = UnitOfWork()
    async with in_transaction():
        yield work
    for event in work.events:
        try:
            await _publisher.publish(event)
        except Exception:
            # The change is committed; live streams resynchronise from the database.
            logger.exception("publishing %s failed after commit", event.channel)
