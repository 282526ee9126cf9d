"""The background loop of `gql-server worker`: periodic jobs, run until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from gql_server.services import submissions, task_lifecycle

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[int]]

# What only the passing of time changes: started work past its limit, unreviewed work
# past its auto-approval delay, tasks past their expiry.
JOBS: list[Job] = [
    submissions.expire_started,
    submissions.auto_approve_due,
    task_lifecycle.close_expired_tasks,
]


async def run_once(jobs: Sequence[Job] = JOBS) -> int:
    """Run every job once; return how many items they handled in all."""
    handled = 0
    for job in jobs:
        try:
            handled += await job()
        except Exception:
            logger.exception("background job %s failed", getattr(job, "__name__", job))
    return handled


async def run_forever(
    stop: asyncio.Event, interval: float = 1.0, jobs: Sequence[Job] = JOBS
) -> None:
    logger.info("background worker started with %d job(s)", len(jobs))
    while not stop.is_set():
        await run_once(jobs)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
    logger.info("background worker stopped")
