"""The seeded account of the analytics tests: four workers on one task on a frozen clock
(one approved at once, one rejected who disputes, one approved after a revision, one who
never sends), a second task, ratings, a bonus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gql_server.clock import FrozenClock
from gql_server.models import Task, TaskView
from gql_server.services import review, submissions
from tests.factories import Requester, Worker, answer, new_requester, new_task, new_worker

# A Monday, 10:00 UTC.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def period(start: datetime, end: datetime, bucket: str = "DAY") -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat(), "bucket": bucket}


@dataclass
class Seeded:
    requester: Requester
    task: Task
    other_task: Task
    workers: list[Worker]


def _period(start: datetime, end: datetime, bucket: str = "DAY") -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat(), "bucket": bucket}


async def _view(task: Task, worker: Worker) -> None:
    """As a listing records it (services/available_tasks.py)."""
    await TaskView.create(task_id=task.id, worker_id=worker.id)


@pytest.fixture
async def seeded(frozen: FrozenClock) -> Seeded:
    frozen.set(T0)
    requester = await new_requester()
    task = await new_task(requester, max_submissions_per_worker=1)
    other_task = await new_task(requester, title="Another")
    w1, w2, w3, w4 = [await new_worker(c) for c in ("DE", "DE", "FR", "US")]
    for worker in (w1, w2, w3, w4):
        await _view(task, worker)
    # w1 views twice: 5 views, 4 viewers.
    await _view(task, w1)
    principal = requester.principal
    started = {}
    for offset, worker in zip((0, 10, 20, 30), (w1, w2, w3, w4), strict=True):
        frozen.set(T0 + timedelta(seconds=offset))
        started[worker.id] = await submissions.start_submission(worker.principal, task.id)
    # Sent after 60, 180 and 120 seconds.
    for offset, worker in ((60, w1), (190, w2), (140, w3)):
        frozen.set(T0 + timedelta(seconds=offset))
        await submissions.submit_submission(worker.principal, started[worker.id].id, answer())
    frozen.set(T0 + timedelta(minutes=5))
    await review.approve_submission(principal, started[w1.id].id)
    await review.pay_bonus(principal, started[w1.id].id, 50)
    await review.reject_submission(principal, started[w2.id].id, "Not a cat.")
    await submissions.dispute_rejection(w2.principal, started[w2.id].id, "It is a cat.")
    await review.request_revision(principal, started[w3.id].id, "Closer, please.")
    await submissions.submit_submission(w3.principal, started[w3.id].id, answer("a big cat"))
    await review.approve_submission(principal, started[w3.id].id)
    await submissions.rate_task(w1.principal, task.id, 4, 5)
    await submissions.rate_task(w2.principal, task.id, 2, 3)
    # w4 never sends: its start expires after the time limit (600 s).
    frozen.set(T0 + timedelta(minutes=11))
    assert await submissions.expire_started() >= 1
    # w1 works on a second task of the account: a repeat worker.
    frozen.set(T0 + timedelta(minutes=20))
    await submissions.start_submission(w1.principal, other_task.id)
    return Seeded(requester, task, other_task, [w1, w2, w3, w4])
