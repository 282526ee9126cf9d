"""Work that happens by itself in the demo, so that a first look at the dashboard moves.

Only `make run`'s demo has it: dev mode on the embedded default (`Settings.demo_activity`,
never on PostgreSQL, never without `GQL_DEV_MODE`), and only on the demo account that
`services/demo.py` seeds. Every few seconds a new demo worker starts a submission on the
demo's oldest open task (committed moves) and the one started before submits (the review
queue grows), through the same worker use cases the seeding uses, so streams, limits and
rules act on it as on real work. It stops adding work while the account's review queue
holds `QUEUE_CAP` submissions, so the queue waits for someone to review it instead of
growing without end; a task that can fund no more work closes by itself as usual.

The sandbox's `simulate_workers` is not used: it acts only in sandbox accounts, and the
demo account is a live one (its workers are real registered workers, as the seeding's are).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass, field

from gql_server.models import Account, Submission, Task
from gql_server.models.enums import SubmissionState, TaskStatus
from gql_server.services import submissions
from gql_server.services.demo import DEMO_ACCOUNT_NAME
from gql_server.services.errors import UseCaseError
from gql_server.services.principals import WorkerPrincipal
from gql_server.services.workers import register_worker

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 5.0
QUEUE_CAP = 40
COUNTRIES = ("US", "DE", "IN", "BR", "PH", "NG", "FR", "MX")


@dataclass
class DemoActivity:
    """One step per call of `step`: submit what was started last time, start one more."""

    # The demo account (by default the first one seeded, which `make run` made).
    account_id: int | None = None
    started: list[tuple[WorkerPrincipal, int]] = field(default_factory=list)
    count: int = 0

    async def step(self) -> None:
        query = Account.filter(sandbox=False)
        if self.account_id is not None:
            query = query.filter(id=self.account_id)
        account = await query.filter(name=DEMO_ACCOUNT_NAME).order_by("id").first()
        if account is None:
            return
        for worker, submission_id in self.started:
            with suppress(UseCaseError):
                await submissions.submit_submission(worker, submission_id, self._answer())
        self.started.clear()
        waiting = await Submission.filter(
            account_id=account.id, state=SubmissionState.SUBMITTED
        ).count()
        if waiting >= QUEUE_CAP:
            return
        task = (
            await Task.filter(account_id=account.id, status=TaskStatus.OPEN)
            .order_by("created_at", "id")
            .first()
        )
        if task is None:
            return
        self.count += 1
        registered = await register_worker(
            f"Demo worker {self.count}", COUNTRIES[self.count % len(COUNTRIES)]
        )
        worker = WorkerPrincipal(worker_id=registered.worker.id, api_key_id=0)
        try:
            started = await submissions.start_submission(worker, task.id)
        except UseCaseError as error:
            logger.info("demo activity: no start on task %s (%s)", task.id, error)
            return
        self.started.append((worker, started.id))

    def _answer(self) -> dict[str, str]:
        return {
            "screenshot": f"https://img.example/demo/{self.count}.png",
            "notes": "Installed, used for a few minutes, rated 4 stars.",
        }


async def run(stop: asyncio.Event, interval: float = INTERVAL_SECONDS) -> None:
    logger.info("demo activity started: a demo worker acts every %.0f s", interval)
    activity = DemoActivity()
    while not stop.is_set():
        try:
            await activity.step()
        except Exception:
            logger.exception("demo activity step failed")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
