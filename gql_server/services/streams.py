"""Live streams: channel names, the changes services emit, and the versioned log behind them.

One channel per stream (on Redis each is prefixed with `gqs:`):

- `task:<task id>`: a task's status changes and rule firings (taskEvents)
- `budget:task:<task id>`, `budget:account:<account id>`: money figures (budget)
- `queue:task:<task id>`, `queue:account:<account id>`: pending reviews (reviewQueue)
- `locks:task:<task id>`, `locks:batch:<batch id>`: audit leases (auditLocks)

Services emit changes into their unit of work. Just before it commits, `seal` turns the
changes of each stream into one message: the stream's next version, its absolute state
read right then, and what changed. Versions are allocated by inserting the message into
`stream_event`, whose unique (stream, version) makes concurrent writers of one stream wait
for each other, so versions follow commit order without gaps and each message's state
includes every earlier version. The stored messages are what a subscription resumes from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.connection import get_connection
from tortoise.functions import Max, Sum

from gql_server import clock
from gql_server.models import Account, AuditLock, Batch, StreamEvent, Submission, Task
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.review_queue import PENDING

if TYPE_CHECKING:
    from gql_server.services.events import Event, UnitOfWork

# Messages kept per stream for resuming; a client further behind gets a fresh snapshot.
KEEP_VERSIONS = 500
PRUNE_EVERY = 50
# More changes than this in one transaction (a bulk review) are not listed one by one:
# the message is flagged as a snapshot, so clients rebuild from its state.
MAX_CHANGES = 200
# At most this many held locks are listed in a message (all are counted).
MAX_LISTED_LOCKS = 200


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


# --- what services emit -------------------------------------------------------------------


async def emit_figures(work: UnitOfWork, task_id: int, change: str) -> Task:
    """The task's money changed (and so its account's totals); returns the task as it is now."""
    task = await Task.get(id=task_id)
    body = {"change": change, "task_id": task.id}
    work.emit(task_budget_channel(task.id), body)
    work.emit(account_budget_channel(task.account_id), body)
    return task


def emit_status(work: UnitOfWork, task: Task, change: str) -> None:
    """The task was opened, paused, resumed or closed (`task` is read after the change)."""
    work.emit(
        task_channel(task.id),
        {"change": change, "close_reason": task.close_reason.value if task.close_reason else None},
    )


def emit_rule_fired(
    work: UnitOfWork,
    task_id: int,
    *,
    rule_id: int,
    action: str,
    worker_id: int | None = None,
    submission_id: int | None = None,
) -> None:
    """A quality-control rule acted because of work on this task."""
    work.emit(
        task_channel(task_id),
        {
            "change": "rule_fired",
            "rule_id": rule_id,
            "action": action,
            "worker_id": worker_id,
            "submission_id": submission_id,
        },
    )


def emit_queue(work: UnitOfWork, task: Task, submission_id: int, change: str) -> None:
    """A submission entered ("added"), left ("removed") or changed in the review queue."""
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


# --- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamMessage:
    """One message of a stream: its version, the absolute state, and what changed.

    `snapshot` says the state stands alone (first message, resynchronisation, or too many
    changes to list): a client rebuilds what it derived instead of applying `changes`.
    """

    version: int
    snapshot: bool
    state: dict[str, Any]
    changes: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "snapshot": self.snapshot,
            "state": self.state,
            "changes": list(self.changes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamMessage:
        return cls(data["version"], data["snapshot"], data["state"], tuple(data["changes"]))


# --- the absolute state of each kind of stream ----------------------------------------------


async def _task_state(task_id: int) -> dict[str, Any]:
    task = await Task.get(id=task_id)
    return {
        "task_id": task.id,
        "status": task.status.value,
        "close_reason": task.close_reason.value if task.close_reason else None,
    }


async def _task_budget_state(task_id: int) -> dict[str, Any]:
    task = await Task.get(id=task_id)
    return {
        "task_id": task.id,
        "status": task.status.value,
        "budget_minor": task.budget_minor,
        "committed_minor": task.committed_minor,
        "spent_minor": task.spent_minor,
        "remaining_minor": task.remaining_minor,
    }


async def _account_budget_state(account_id: int) -> dict[str, Any]:
    account = await Account.get(id=account_id)
    totals = (
        await Task.filter(account_id=account_id)
        .annotate(
            budget=Sum("budget_minor"),
            committed=Sum("committed_minor"),
            spent=Sum("spent_minor"),
            remaining=Sum("remaining_minor"),
        )
        .values("budget", "committed", "spent", "remaining")
    )[0]
    return {
        "balance_minor": account.balance_minor,
        **{f"{name}_minor": int(totals[name] or 0) for name in totals},
    }


async def _task_queue_state(task_id: int) -> dict[str, Any]:
    pending = Submission.filter(task_id=task_id, state__in=PENDING, submitted_at__isnull=False)
    return {"task_id": task_id, "length": await pending.count()}


async def _account_queue_state(account_id: int) -> dict[str, Any]:
    pending = Submission.filter(
        account_id=account_id, state__in=PENDING, submitted_at__isnull=False
    )
    return {"length": await pending.count()}


async def _locks_state(scope: dict[str, int]) -> dict[str, Any]:
    held = AuditLock.filter(
        holder_id__isnull=False, released_at__isnull=True, expires_at__gt=clock.now(), **scope
    )
    rows = (
        await held.order_by("expires_at", "id")
        .limit(MAX_LISTED_LOCKS)
        .values("submission_id", "task_id", "holder_id", "fencing_token", "expires_at")
    )
    return {
        "held": await held.count(),
        "locks": [{**row, "expires_at": row["expires_at"].isoformat()} for row in rows],
    }


async def _task_locks_state(task_id: int) -> dict[str, Any]:
    return {"task_id": task_id, **await _locks_state({"task_id": task_id})}


async def _batch_locks_state(batch_id: int) -> dict[str, Any]:
    return {"batch_id": batch_id, **await _locks_state({"task__batch_id": batch_id})}


@dataclass(frozen=True)
class _Kind:
    name: str
    read_state: Callable[[int], Awaitable[dict[str, Any]]]
    # The keys of an emitted change that its message keeps.
    change_keys: tuple[str, ...]


_LOCK_KEYS = ("change", "task_id", "submission_id", "holder_id", "fencing_token", "expires_at")
_KINDS = {
    kind.name: kind
    for kind in (
        _Kind(
            "task",
            _task_state,
            ("change", "close_reason", "rule_id", "action", "worker_id", "submission_id"),
        ),
        _Kind("budget:task", _task_budget_state, ("change", "task_id")),
        _Kind("budget:account", _account_budget_state, ("change", "task_id")),
        _Kind("queue:task", _task_queue_state, ("change", "task_id", "submission_id")),
        _Kind("queue:account", _account_queue_state, ("change", "task_id", "submission_id")),
        _Kind("locks:task", _task_locks_state, _LOCK_KEYS),
        _Kind("locks:batch", _batch_locks_state, _LOCK_KEYS),
    )
}


def _kind_of(channel: str) -> tuple[_Kind, int]:
    prefix, _, pk = channel.rpartition(":")
    return _KINDS[prefix], int(pk)


# --- the log: allocation, snapshots, replay -------------------------------------------------


async def _allocate(channel: str) -> tuple[int, int]:
    """Insert the stream's next version (row id, version); call inside the transaction.

    On PostgreSQL a concurrent writer of the same stream makes the insert wait on the
    unique index until that writer commits; the insert then does nothing and is retried
    against the committed state, so versions are never skipped nor reused.
    """
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    stream, created, again = ("$1", "$2", "$3") if postgres else ("?", "?", "?")
    sql = (
        'INSERT INTO "stream_event" ("stream", "version", "kind", "payload", "created_at") '
        f"SELECT {stream}, COALESCE(MAX(\"version\"), 0) + 1, '', '{{}}', {created} "
        f'FROM "stream_event" WHERE "stream" = {again} '
        'ON CONFLICT ("stream", "version") DO NOTHING RETURNING "id", "version"'
    )
    values = [channel, clock.now(), channel]
    # Each failed attempt means another writer committed the version meanwhile, so this
    # ends as the writers ahead commit; the bound only stops a bug from spinning forever.
    for _ in range(1000):
        rows = await connection.execute_query_dict(sql, values)
        if rows:
            return int(rows[0]["id"]), int(rows[0]["version"])
    raise RuntimeError(f"could not allocate a version of {channel}")


async def seal(events: Sequence[Event]) -> list[tuple[str, StreamMessage]]:
    """One message per stream for the events of a unit of work; call before it commits."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        changes.setdefault(event.channel, []).append(event.payload)
    # Streams are always taken in the same order, so two writers never wait on each other.
    allocated = {channel: await _allocate(channel) for channel in sorted(changes)}
    messages = []
    for channel, emitted in changes.items():
        kind, pk = _kind_of(channel)
        row_id, version = allocated[channel]
        listed = len(emitted) <= MAX_CHANGES
        message = StreamMessage(
            version=version,
            snapshot=not listed,
            state=await kind.read_state(pk),
            changes=tuple({key: change.get(key) for key in kind.change_keys} for change in emitted)
            if listed
            else (),
        )
        await StreamEvent.filter(id=row_id).update(kind=kind.name, payload=message.to_json())
        if version % PRUNE_EVERY == 0:
            await StreamEvent.filter(stream=channel, version__lte=version - KEEP_VERSIONS).delete()
        messages.append((channel, message))
    return messages


async def latest_version(channel: str) -> int:
    versions = (
        await StreamEvent.filter(stream=channel)
        .order_by("-version")
        .limit(1)
        .values_list("version", flat=True)
    )
    return int(versions[0]) if versions else 0


async def latest_versions(channels: Sequence[str]) -> dict[str, int]:
    """The latest version of each of `channels` that has one, in one query."""
    rows = (
        await StreamEvent.filter(stream__in=list(channels))
        .group_by("stream")
        .annotate(latest=Max("version"))
        .values("stream", "latest")
    )
    return {row["stream"]: int(row["latest"]) for row in rows}


async def snapshot(channel: str) -> StreamMessage:
    """The stream's current state, flagged as a snapshot.

    The version is read before the state, so the state includes at least every change up
    to it; a change after it may already show in the state too (figures are absolute, so
    applying it again does no harm).
    """
    version = await latest_version(channel)
    kind, pk = _kind_of(channel)
    return StreamMessage(version=version, snapshot=True, state=await kind.read_state(pk))


async def replay(channel: str, after: int, upto: int | None = None) -> list[StreamMessage] | None:
    """The stored messages after version `after` (up to `upto`), in order.

    None when the log cannot give all of them (pruned, or `after` is not a version this
    stream has reached): the caller starts from a snapshot instead.
    """
    query = StreamEvent.filter(stream=channel, version__gt=after)
    if upto is not None:
        query = query.filter(version__lte=upto)
    rows = await query.order_by("version").values("version", "payload")
    if not rows:
        return None if upto is not None or after > await latest_version(channel) else []
    versions = [int(row["version"]) for row in rows]
    last = upto if upto is not None else versions[-1]
    if versions != list(range(after + 1, last + 1)):
        return None
    return [StreamMessage.from_json(row["payload"]) for row in rows]


# --- which streams a member may follow ---------------------------------------------------


def _not_found(what: str, field: str) -> UseCaseError:
    # Another account's object is answered exactly like one that does not exist.
    return UseCaseError.single(ErrorCode.NOT_FOUND, f"{what} not found.", field)


async def owned_task(account_id: int, task_id: int | None) -> int:
    if task_id is None or not await Task.exists(id=task_id, account_id=account_id):
        raise _not_found("Task", "task_id")
    return task_id


async def owned_batch(account_id: int, batch_id: int | None) -> int:
    if batch_id is None or not await Batch.exists(id=batch_id, account_id=account_id):
        raise _not_found("Batch", "batch_id")
    return batch_id
