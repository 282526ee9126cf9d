"""The review queue: an account's or a task's submissions waiting for a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gql_server.models import Submission
from gql_server.models.enums import SubmissionState
from gql_server.models.vocabulary import PENDING_REVIEW_STATES
from gql_server.services.global_ids import pk_field
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate


@dataclass(frozen=True)
class QueueFilter:
    # The APIs take and show these as global ids (the exports read them from query text).
    task_id: int | None = pk_field("Task")
    worker_id: int | None = pk_field("Worker")
    states: list[SubmissionState] = field(default_factory=lambda: list(PENDING_REVIEW_STATES))
    submitted_after: datetime | None = None
    submitted_before: datetime | None = None


async def review_queue(
    account_id: int, queue_filter: QueueFilter, oldest_first: bool, page: PageRequest
) -> Page[Submission]:
    """Oldest first by default, so the longest-waiting work is reviewed first."""
    query = Submission.filter(
        account_id=account_id, state__in=queue_filter.states, submitted_at__isnull=False
    )
    if queue_filter.task_id is not None:
        query = query.filter(task_id=queue_filter.task_id)
    if queue_filter.worker_id is not None:
        query = query.filter(worker_id=queue_filter.worker_id)
    if queue_filter.submitted_after is not None:
        query = query.filter(submitted_at__gte=queue_filter.submitted_after)
    if queue_filter.submitted_before is not None:
        query = query.filter(submitted_at__lt=queue_filter.submitted_before)
    return await paginate(query, SortKey("submitted_at", descending=not oldest_first), page)


async def worker_submissions(
    worker_id: int, states: list[SubmissionState] | None, page: PageRequest
) -> Page[Submission]:
    """A worker's own submissions, newest first; never anyone else's."""
    query = Submission.filter(worker_id=worker_id)
    if states:
        query = query.filter(state__in=states)
    return await paginate(query, SortKey("created_at", descending=True), page)
