"""Channel names and message bodies of the live streams, one place for all of them.

Channels: `task:<id>` (status changes, rule firings), `budget:task:<id>`,
`budget:account:<id>`, `queue:task:<id>`, `queue:account:<id>`, `locks:task:<id>`,
`locks:batch:<id>`.
Bodies carry absolute figures, computed once after the change, never increments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gql_server.models import Account, Task
from gql_server.services.events import UnitOfWork


def task_channel(task_id: int) -> str:
    return f"task:{task_id}"


def task_budget_channel(task_id: int) -> str:
    return f"budget:task:{task_id}"


def account_budget_channel(account_id: int) -> str:
    return f"budget:account:{account_id}"


def task_queue_channel(task_id: int) -> str:
    return f"queue:task:{task_id}"


def account_queue_channel(account_id: int) -> str:
    return f"queue:account:{account_id}"


def task_locks_channel(task_id: int) -> str:
    return f"locks:task:{task_id}"


def batch_locks_channel(batch_id: int) -> str:
    return f"locks:batch:{batch_id}"


def task_figures(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "version": task.version,
        "budget_minor": task.budget_minor,
        "committed_minor": task.committed_minor,
        "spent_minor": task.spent_minor,
        "remaining_minor": task.remaining_minor,
        "status": task.status.value,
    }


async def emit_figures(work: UnitOfWork, task_id: int, change: str) -> Task:
    """Queue the task's and its account's current figures for publishing after commit."""
    task = await Task.get(id=task_id)
    work.emit(task_budget_channel(task.id), {"change": change, **task_figures(task)})
    account = await Account.get(id=task.account_id)
    work.emit(
        account_budget_channel(account.id),
        {"change": change, "task_id": task.id, "balance_minor": account.balance_minor},
    )
    return task


def emit_status(work: UnitOfWork, task: Task, change: str) -> None:
    work.emit(
        task_channel(task.id),
        {
            "change": change,
            "task_id": task.id,
            "version": task.version,
            "status": task.status.value,
            "close_reason": task.close_reason.value if task.close_reason else None,
        },
    )


def emit_queue(work: UnitOfWork, task: Task, submission_id: int, change: str) -> None:
    body = {"change": change, "task_id": task.id, "submission_id": submission_id}
    work.emit(task_queue_channel(task.id), body)
    work.emit(account_queue_channel(task.account_id), body)


def emit_lock(
    work: UnitOfWork,
    *,
    task_id: int,
    batch_id: int | None,
    submission_id: int,
    change: str,
    holder_id: int | None,
    fencing_token: int,
    expires_at: datetime | None,
) -> None:
    """An audit lock was taken, renewed, released or expired."""
    body = {
        "change": change,
        "task_id": task_id,
        "submission_id": submission_id,
        "holder_id": holder_id,
        "fencing_token": fencing_token,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    work.emit(task_locks_channel(task_id), body)
    if batch_id is not None:
        work.emit(batch_locks_channel(batch_id), body)
