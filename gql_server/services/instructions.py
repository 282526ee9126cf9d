"""The history of a task's instructions: every version, with its time and its author.

A task's first version is recorded when its instructions first change (with the task's own
text, creation time and creator), so a task that never changes keeps no history; each
change adds the next number, in the transaction of the change, after the task's row was
updated (which makes concurrent changes of one task wait for each other, so numbers never
collide). The version a worker agreed to is the one in effect when it first started the
task.
"""

from __future__ import annotations

from gql_server import clock
from gql_server.models import InstructionRevision, Submission, Task


async def record_change(task: Task, instructions: str, member_id: int | None) -> None:
    """Keep `instructions` as the task's next version; call in the transaction that set it
    on `task` (as it was read before the change)."""
    latest = await InstructionRevision.filter(task_id=task.id).order_by("-number").first()
    number = 1 if latest is None else latest.number
    if latest is None:
        await InstructionRevision.create(
            task_id=task.id,
            number=number,
            instructions=task.instructions,
            member_id=task.created_by_id,
            created_at=task.created_at,
        )
    await InstructionRevision.create(
        task_id=task.id,
        number=number + 1,
        instructions=instructions,
        member_id=member_id,
        created_at=clock.now(),
    )


async def revisions_of(task_ids: list[int]) -> dict[int, list[InstructionRevision]]:
    """Each task's versions, oldest first (none for a task that never changed)."""
    grouped: dict[int, list[InstructionRevision]] = {pk: [] for pk in task_ids}
    for revision in await InstructionRevision.filter(task_id__in=task_ids).order_by(
        "task_id", "number"
    ):
        grouped[revision.task_id].append(revision)
    return grouped


async def agreed_number(task_id: int, worker_id: int) -> int | None:
    """The version in effect when the worker first started the task; None if it never
    started it or the instructions never changed."""
    first = (
        await Submission.filter(task_id=task_id, worker_id=worker_id)
        .order_by("created_at", "id")
        .first()
    )
    if first is None:
        return None
    numbers = (
        await InstructionRevision.filter(task_id=task_id, created_at__lte=first.created_at)
        .order_by("-number")
        .limit(1)
        .values_list("number", flat=True)
    )
    return int(numbers[0]) if numbers else None
