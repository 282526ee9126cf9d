"""The background loop of `gql-server worker`: periodic jobs, run until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from gql_server.services import (
    audits,
    conversations,
    review,
    streams,
    submissions,
    tallies,
    task_lifecycle,
)
from gql_server.services.callback_guard import callback_client
from gql_server.services.callbacks import CallbackSender
from gql_server.settings import Settings

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[int]]

# What only the passing of time changes: started work past its limit, unreviewed work
# past its auto-approval delay, tasks past their expiry, audit leases past their end,
# questions past their due time; stream changes a process that died after its commit
# left without a version; and the analytics' tallies, folded to one row a key.
SWEEPS: list[Job] = [
    submissions.expire_started,
    review.auto_approve_due,
    task_lifecycle.close_expired_tasks,
    audits.expire_locks,
    conversations.mark_overdue,
    streams.sequence_stragglers,
    tallies.settle,
]


def callback_sender(settings: Settings) -> CallbackSender:
    return CallbackSender(
        lambda: callback_client(
            allow_private=settings.allow_private_callbacks,
            timeout_seconds=settings.callback_timeout_seconds,
        )
    )


def jobs(settings: Settings) -> list[Job]:
    """Every job of the background loop: the sweeps, then the callbacks that are due."""
    return [*SWEEPS, callback_sender(settings).deliver_due]


async def run_once(jobs: Sequence[Job]) -> int:
    """Run every job once; return how many items they handled in all."""
    handled = 0
    for job in jobs:
        try:
            handled += await job()
        except Exception:
            logger.exception("background job %s failed", getattr(job, "__name__", job))
    return handled


async def run_forever(stop: asyncio.Event, jobs: Sequence[Job], interval: float = 1.0) -> None:
    logger.info("background worker started with %d job(s)", len(jobs))
    while not stop.is_set():
        await run_once(jobs)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
    logger.info("background worker stopped")
