"""One subscription's messages: the current state first, then every change, in version order.

Listening starts before the database is read, so nothing committed after the read can be
missed; buffered messages at or below what was already sent are dropped. A version gap
(a message lost on the way, or two writers publishing out of order) is filled from the
stream's log; a resync marker (Redis came back, or this subscriber fell behind) or a gap
the log no longer covers restarts from a fresh snapshot. No database query runs per
message, only on those exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from gql_server.services import streams
from gql_server.services.streams import StreamMessage
from gql_server.subscriptions.hub import Resync, active_hub


async def _first(channel: str, resume_from: int | None) -> list[StreamMessage]:
    """What to send first: a snapshot, or what changed since `resume_from` if the log has it."""
    if resume_from is not None:
        missed = await streams.replay(channel, after=resume_from)
        if missed is not None:
            return missed
    return [await streams.snapshot(channel)]


async def follow(
    channel: str, resume_from: int | None = None
) -> AsyncGenerator[StreamMessage, None]:
    async with active_hub().listen(channel) as inbox:
        sent = resume_from if resume_from is not None else -1
        pending = await _first(channel, resume_from)
        while True:
            for message in pending:
                if message.snapshot or message.version > sent:
                    sent = message.version
                    yield message
            item = await inbox.get()
            if isinstance(item, Resync):
                pending = [await streams.snapshot(channel)]
            elif item.version <= sent:
                pending = []
            elif item.version == sent + 1:
                pending = [item]
            else:
                missed = await streams.replay(channel, after=sent, upto=item.version - 1)
                if missed is not None:
                    pending = [*missed, item]
                else:
                    # At least as new as `item`, which it then covers.
                    pending = [await streams.snapshot(channel)]
