"""What a worker may take: open, funded, in time, with a free slot, targeted at them, and
not restricted. Each listing records a view (the denominator of the view rate)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import F, Q

from gql_server import clock
from gql_server.models import Task, TaskView, TaskWorkerCounter, Worker
from gql_server.models.enums import TaskStatus
from gql_server.services import eligibility
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PageRequest,
    SortKey,
    decode_cursor,
    encode_cursor,
)
from gql_server.services.principals import WorkerPrincipal

_SORT = SortKey("created_at", descending=True)
_SCAN = 200


@dataclass(frozen=True)
class TaskListing:
    items: list[tuple[str, Task]]
    has_next_page: bool


def _open_now() -> Q:
    now = clock.now()
    return (
        Q(status=TaskStatus.OPEN)
        & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        & (Q(max_submissions__isnull=True) | Q(slots_taken__lt=F("max_submissions")))
    )


async def available_tasks(principal: WorkerPrincipal, page: PageRequest) -> TaskListing:
    if page.last is not None or page.before is not None:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, "Available tasks page forward only (first/after).", "last"
        )
    size = page.first if page.first is not None else DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise UseCaseError.single(
            ErrorCode.VALIDATION, f"'first' must be from 1 to {MAX_PAGE_SIZE}.", "first"
        )
    worker = await Worker.get(id=principal.worker_id)
    position = decode_cursor(page.after, _SORT, "after") if page.after else None

    chosen: list[Task] = []
    profiles: dict[int, eligibility.WorkerProfile] = {}
    restrictions = {}
    while len(chosen) <= size:
        query = Task.filter(_open_now(), account__sandbox=worker.simulated).filter(
            remaining_minor__gte=F("reward_minor")
        )
        if position is not None:
            value, pk = position
            query = query.filter(Q(created_at__lt=value) | Q(created_at=value, id__lt=pk))
        batch = await query.order_by("-created_at", "-id").limit(_SCAN)
        if not batch:
            break
        held = dict(
            await TaskWorkerCounter.filter(
                worker_id=worker.id, task_id__in=[t.id for t in batch]
            ).values_list("task_id", "slots_taken")
        )
        for task in batch:
            if held.get(task.id, 0) >= task.max_submissions_per_worker:
                continue
            if task.account_id not in profiles:
                profiles[task.account_id] = await eligibility.load_profile(worker, task.account_id)
                restrictions[task.account_id] = list(
                    await eligibility.active_restrictions_query(worker.id, task.account_id)
                )
            if any(eligibility.restricts(r, task) for r in restrictions[task.account_id]):
                continue
            if eligibility.ineligibility(profiles[task.account_id], task.targeting) is None:
                chosen.append(task)
                if len(chosen) > size:
                    break
        last = batch[-1]
        position = (last.created_at, last.id)
        if len(batch) < _SCAN:
            break

    shown = chosen[:size]
    if shown:
        await TaskView.bulk_create([TaskView(task_id=t.id, worker_id=worker.id) for t in shown])
    return TaskListing(
        items=[(encode_cursor(t, _SORT), t) for t in shown], has_next_page=len(chosen) > size
    )
