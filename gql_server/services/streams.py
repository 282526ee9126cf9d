"""Live streams: channel names, the changes services emit, and the versioned log behind them.

One channel per stream (on Redis each is prefixed with `gqs:`):

- `task:<task id>`: a task's status changes and rule firings (taskEvents)
- `budget:task:<task id>`, `budget:account:<account id>`: money figures (budget)
- `queue:task:<task id>`, `queue:account:<account id>`: pending reviews (reviewQueue)
- `locks:task:<task id>`, `locks:batch:<batch id>`: audit leases (auditLocks)

Use cases raise domain events; `changes_of` says what each changes on which stream, and
the `StreamLog` handler gathers those changes in the unit of work. Just before it commits,
`seal` turns the changes of each stream into one message: the stream's next version, its
absolute state read right then, and what changed. Versions are allocated by inserting
the message into `stream_event`, whose unique (stream, version) makes concurrent writers
of one stream wait for each other, so versions follow commit order without gaps and each
message's state includes every earlier version. The stored messages are what a
subscription resumes from.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tortoise.connection import get_connection
from tortoise.functions import Max, Sum

from gql_server import clock
from gql_server.models import Account, AuditLock, Batch, StreamEvent, Submission, Task
from gql_server.models.enums import FiguresChange, QueueChange, TaskChange
from gql_server.models.vocabulary import PENDING_REVIEW_STATES, lock_held
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.events import (
    AccountFunded,
    AuditLockChanged,
    BonusPaid,
    DomainEvent,
    Handler,
    RuleFired,
    SubmissionDisputed,
    SubmissionsExpired,
    SubmissionsReviewed,
    SubmissionStarted,
    SubmissionSubmitted,
    TaskFiguresChanged,
    TaskStatusChanged,
    UnitOfWork,
)

logger = logging.getLogger(__name__)

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


# --- what each domain event changes on which stream -------------------------------------


Change = tuple[str, dict[str, Any]]


def _figures(account_id: int, task_id: int, change: FiguresChange) -> list[Change]:
    body = {"change": change.value, "task_id": task_id}
    return [(task_budget_channel(task_id), body), (account_budget_channel(account_id), body)]


def _queue(account_id: int, task_id: int, submission_id: int, change: QueueChange) -> list[Change]:
    body = {"change": change.value, "task_id": task_id, "submission_id": submission_id}
    return [(task_queue_channel(task_id), body), (account_queue_channel(account_id), body)]


def changes_of(event: DomainEvent) -> list[Change]:
    """The stream changes an event makes, in the order its message lists them."""
    match event:
        case AccountFunded(account_id=account_id):
            return [(account_budget_channel(account_id), {"change": FiguresChange.FUNDED.value})]
        case TaskFiguresChanged(account_id=account, task_id=task, change=change):
            return _figures(account, task, change)
        case TaskStatusChanged(account_id=account, task_id=task, change=change):
            reason = event.close_reason.value if event.close_reason else None
            status = (task_channel(task), {"change": change.value, "close_reason": reason})
            if change is TaskChange.OPENED:
                return [*_figures(account, task, FiguresChange.PUBLISHED), status]
            if change is TaskChange.CLOSED:
                return [*_figures(account, task, FiguresChange.CLOSED), status]
            return [status]
        case SubmissionStarted(account_id=account, task_id=task):
            return _figures(account, task, FiguresChange.STARTED)
        case SubmissionSubmitted(account_id=account, task_id=task, submission_id=submission):
            return _queue(account, task, submission, QueueChange.ADDED)
        case SubmissionDisputed(account_id=account, task_id=task, submission_id=submission):
            return _queue(account, task, submission, QueueChange.UPDATED)
        case SubmissionsReviewed(account_id=account, task_id=task, figures=figures):
            money = _figures(account, task, figures) if figures is not None else []
            return money + [
                change
                for item in event.submissions
                for change in _queue(account, task, item.submission_id, QueueChange.REMOVED)
            ]
        case BonusPaid(account_id=account, task_id=task):
            return _figures(account, task, FiguresChange.BONUS)
        case SubmissionsExpired(account_id=account, task_id=task):
            return _figures(account, task, FiguresChange.EXPIRED)
        case AuditLockChanged(task_id=task, batch_id=batch):
            body = {
                "change": event.change.value,
                "task_id": task,
                "submission_id": event.submission_id,
                "holder_id": event.holder_id,
                "fencing_token": event.fencing_token,
                "expires_at": event.expires_at.isoformat() if event.expires_at else None,
            }
            locks = [(task_locks_channel(task), body)]
            return locks if batch is None else [*locks, (batch_locks_channel(batch), body)]
        case RuleFired(task_id=task):
            return [
                (
                    task_channel(task),
                    {
                        "change": TaskChange.RULE_FIRED.value,
                        "rule_id": event.rule_id,
                        "action": event.action,
                        "worker_id": event.worker_id,
                        "submission_id": event.submission_id,
                    },
                )
            ]
    return []


# --- publishing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """A stream message on its way to subscribers: its channel and its JSON."""

    channel: str
    payload: dict[str, Any]


class Publisher(Protocol):
    async def publish(self, message: Published) -> None: ...


class DiscardingPublisher:
    """Used until a real publisher is installed (commands that serve no subscribers)."""

    async def publish(self, message: Published) -> None:
        return None


_publisher: Publisher = DiscardingPublisher()


def install_publisher(publisher: Publisher) -> Publisher:
    """Install `publisher` and return the one it replaces."""
    global _publisher
    previous, _publisher = _publisher, publisher
    return previous


class StreamLog(Handler):
    """Events become stream changes; before commit, one stored message per stream; after
    commit, the messages are published."""

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        work.gathered("stream_changes").extend(changes_of(event))

    async def before_commit(self, work: UnitOfWork) -> None:
        changes = work.gathered("stream_changes")
        if changes:
            work.gathered("stream_messages").extend(await seal(changes))

    async def after_commit(self, work: UnitOfWork) -> None:
        for channel, message in work.gathered("stream_messages"):
            try:
                await _publisher.publish(Published(channel, message.to_json()))
            except Exception as error:
                # The change is committed and its message stored: subscribers see the
                # version gap at their stream's next message and read what they missed from
                # the log. The rest would most likely fail the same way, so the request
                # does not wait.
                logger.warning("publishing %s failed after commit: %r", channel, error)
                break


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
    pending = Submission.filter(
        task_id=task_id, state__in=PENDING_REVIEW_STATES, submitted_at__isnull=False
    )
    return {"task_id": task_id, "length": await pending.count()}


async def _account_queue_state(account_id: int) -> dict[str, Any]:
    pending = Submission.filter(
        account_id=account_id, state__in=PENDING_REVIEW_STATES, submitted_at__isnull=False
    )
    return {"length": await pending.count()}


async def _locks_state(scope: dict[str, int]) -> dict[str, Any]:
    held = AuditLock.filter(lock_held(clock.now()), **scope)
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


async def seal(emitted: Sequence[Change]) -> list[tuple[str, StreamMessage]]:
    """One message per stream for the changes of a unit of work; call before it commits."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for channel, payload in emitted:
        changes.setdefault(channel, []).append(payload)
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
