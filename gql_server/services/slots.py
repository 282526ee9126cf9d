"""Giving a submission's slot back to its task, exactly once whatever path asks for it.

Expiry, a rejection on a task that re-opens rejected slots, and a ban with recompletion
can all free the same submission's slot; the `slot_released` flag makes only the first
one count.
"""

from __future__ import annotations

from collections import Counter

from tortoise.expressions import F

from gql_server.models import Submission, Task, TaskWorkerCounter


async def _give_back(counts: Counter[tuple[int, int]]) -> None:
    per_task: Counter[int] = Counter()
    for (task_id, worker_id), count in counts.items():
        per_task[task_id] += count
        await TaskWorkerCounter.filter(
            task_id=task_id, worker_id=worker_id, slots_taken__gte=count
        ).update(slots_taken=F("slots_taken") - count)
    for task_id, count in per_task.items():
        await Task.filter(id=task_id, slots_taken__gte=count).update(
            slots_taken=F("slots_taken") - count
        )


async def release_slot(submission: Submission) -> bool:
    """Free the submission's slot; False if it was already free."""
    if not await Submission.filter(id=submission.id, slot_released=False).update(
        slot_released=True
    ):
        return False
    await _give_back(Counter({(submission.task_id, submission.worker_id): 1}))
    return True


async def release_slots(submission_ids: list[int]) -> list[int]:
    """Free the slots of those among `submission_ids` that still hold one; return them.

    Call in the transaction that already holds the submissions' rows (the review that
    changed them), so nobody frees them in between.
    """
    if not submission_ids:
        return []
    held = await Submission.filter(id__in=submission_ids, slot_released=False).values_list(
        "id", "task_id", "worker_id"
    )
    if not held:
        return []
    await Submission.filter(id__in=[row[0] for row in held]).update(slot_released=True)
    await _give_back(Counter((task_id, worker_id) for _, task_id, worker_id in held))
    return [row[0] for row in held]
