"""Live streams: channel names, the changes services emit, and the versioned log behind them.

One channel per stream (on Redis each is prefixed with `gqs:`):

- `task:<task id>`: a task's status changes and rule firings (taskEvents)
- `budget:task:<task id>`, `budget:account:<account id>`: money figures (budget)
- `queue:task:<task id>`, `queue:account:<account id>`: pending reviews (reviewQueue)
- `locks:task:<task id>`, `locks:batch:<batch id>`: audit leases (auditLocks)
- `threads:task:<task id>`, `threads:account:<account id>`: question threads, with the
  counts of open and overdue ones (threadActivity)

Use cases raise domain events; `changes_of` says what each changes on which stream, and
the `StreamLog` handler gathers those changes in the unit of work and writes them, with
one INSERT, into `stream_change` in the same transaction: a change is stored exactly when
the work that made it commits, and writing it waits for nobody.

Versions are given after commit, by a sequencing pass (`sequence`): in a short transaction
of its own, holding one lock per stream (an advisory lock on PostgreSQL, the database's
single writer on SQLite), it takes every stored change of its streams, and turns those of
each stream into one message: the stream's next version, its absolute state read then,
and what changed, in the order the changes were stored. Because a change is taken only
after it committed, the state read under the lock includes every change the message lists
and every earlier version's. Reviewers of one task thus never wait for each other's
messages inside their transactions, and under load one pass covers the changes of many
commits (one message instead of one per commit). A process runs one pass at a time and a
request waits for the pass that covers its changes, so a use case's messages are stored
and published when it returns; changes a crashed process left behind are sequenced by the
background sweep (`sequence_stragglers`). The stored messages are what a subscription
resumes from.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from tortoise.connection import get_connection
from tortoise.functions import Max, Sum
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import (
    Account,
    AuditLock,
    Batch,
    StreamChange,
    StreamEvent,
    Submission,
    Task,
    Thread,
)
from gql_server.models.bulk import insert_rows
from gql_server.models.enums import FiguresChange, QueueChange, TaskChange, ThreadState
from gql_server.models.vocabulary import PENDING_REVIEW_STATES, lock_held, thread_overdue
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
    ThreadChanged,
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


def task_threads_channel(task_id: int) -> str:
    return f"threads:task:{task_id}"


def account_threads_channel(account_id: int) -> str:
    return f"threads:account:{account_id}"


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
        case ThreadChanged(account_id=account, task_id=task):
            body = {
                "change": event.change.value,
                "thread_id": event.thread_id,
                "task_id": task,
                "worker_id": event.worker_id,
            }
            whole = (account_threads_channel(account), body)
            return [whole] if task is None else [(task_threads_channel(task), body), whole]
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
    """Events become stream changes, stored in their transaction; after commit, a
    sequencing pass gives them versions and publishes the messages."""

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        work.gathered("stream_changes").extend(changes_of(event))

    async def before_commit(self, work: UnitOfWork) -> None:
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for channel, body in work.gathered("stream_changes"):
            by_stream.setdefault(channel, []).append(body)
        now = clock.now()
        await insert_rows(
            "stream_change",
            _CHANGE_COLUMNS,
            [
                (channel, json.dumps(body), now)
                for channel, bodies in by_stream.items()
                # More than a message lists (a bulk review) is stored as one row saying so.
                for body in (bodies if len(bodies) <= MAX_CHANGES else [_TOO_MANY])
            ],
        )

    async def after_commit(self, work: UnitOfWork) -> None:
        changes = work.gathered("stream_changes")
        if changes:
            await _sequencer.sequence({channel for channel, _ in changes})


async def _publish(messages: Sequence[tuple[str, StreamMessage]]) -> None:
    for channel, message in messages:
        try:
            await _publisher.publish(Published(channel, message.to_json()))
        except Exception as error:
            # The message is stored: subscribers see the version gap at their stream's
            # next message and read what they missed from the log. The rest would most
            # likely fail the same way, so nobody waits for them.
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


_FIGURE_NAMES = ("budget", "committed", "spent", "remaining")


async def _account_budget_state(account_id: int) -> dict[str, Any]:
    (row,) = (
        await Account.filter(id=account_id)
        .annotate(
            budget=Sum("tasks__budget_minor"),
            committed=Sum("tasks__committed_minor"),
            spent=Sum("tasks__spent_minor"),
            remaining=Sum("tasks__remaining_minor"),
        )
        .group_by("id", "balance_minor")
        .values("balance_minor", "budget", "committed", "spent", "remaining")
    )
    return {
        "balance_minor": row["balance_minor"],
        **{f"{name}_minor": int(row[name] or 0) for name in _FIGURE_NAMES},
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


async def _threads_state(scope: dict[str, int]) -> dict[str, Any]:
    open_threads = Thread.filter(state=ThreadState.OPEN, **scope)
    return {
        "open": await open_threads.count(),
        "overdue": await Thread.filter(thread_overdue(clock.now()), **scope).count(),
    }


async def _task_threads_state(task_id: int) -> dict[str, Any]:
    return {"task_id": task_id, **await _threads_state({"task_id": task_id})}


async def _account_threads_state(account_id: int) -> dict[str, Any]:
    return await _threads_state({"account_id": account_id})


@dataclass(frozen=True)
class _Kind:
    name: str
    read_state: Callable[[int], Awaitable[dict[str, Any]]]
    # The keys of an emitted change that its message keeps.
    change_keys: tuple[str, ...]


_THREAD_KEYS = ("change", "thread_id", "task_id", "worker_id")
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
        _Kind("threads:task", _task_threads_state, _THREAD_KEYS),
        _Kind("threads:account", _account_threads_state, _THREAD_KEYS),
    )
}


def _kind_of(channel: str) -> tuple[_Kind, int]:
    prefix, _, pk = channel.rpartition(":")
    return _KINDS[prefix], int(pk)


# --- the log: sequencing, snapshots, replay -------------------------------------------------

_CHANGE_COLUMNS = (("stream", "text"), ("payload", "jsonb"), ("created_at", "timestamptz"))
_EVENT_COLUMNS = (
    *(("stream", "text"), ("version", "bigint"), ("kind", "text")),
    *(("payload", "jsonb"), ("created_at", "timestamptz")),
)
# Stands for more changes than a message lists; a message taking it is a snapshot.
_TOO_MANY: dict[str, Any] = {"change": None, "too_many": True}
# The first key of the advisory locks that make one pass at a time sequence a stream (the
# second is the stream's hash), so that they never collide with other advisory locks.
_LOCK_CLASS = 0x6773
# A change stored longer ago than this without a version was left by a process that died
# between its commit and its pass; the background sweep sequences it.
STRAGGLER_SECONDS = 5.0


async def _take_changes(channels: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Lock `channels` for this transaction and remove their stored changes; return them
    by stream, in the order they were stored."""
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    if postgres:
        # Locks in one order (by key) everywhere, so that two passes never deadlock; two
        # streams whose hashes collide share a lock, which only costs some waiting.
        await connection.execute_query(
            f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, k) FROM "
            "(SELECT DISTINCT hashtext(s) AS k FROM unnest($1::text[]) s ORDER BY k) AS keys",
            [list(channels)],
        )
        where, values = '"stream" = ANY($1::text[])', [list(channels)]
    else:
        where, values = f'"stream" IN ({", ".join("?" * len(channels))})', list(channels)
    rows = await connection.execute_query_dict(
        f'DELETE FROM "stream_change" WHERE {where} RETURNING "id", "stream", "payload"', values
    )
    taken: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: int(row["id"])):
        payload = row["payload"]
        taken.setdefault(row["stream"], []).append(
            json.loads(payload) if isinstance(payload, str) else payload
        )
    return taken


async def _sequence_pass(channels: Sequence[str]) -> list[tuple[str, StreamMessage]]:
    """One message per stream of `channels` that has stored changes, in one transaction."""
    async with in_transaction():
        taken = await _take_changes(sorted(channels))
        if not taken:
            return []
        latest = await latest_versions(list(taken))
        now = clock.now()
        messages = []
        for channel in sorted(taken):
            emitted = taken[channel]
            kind, pk = _kind_of(channel)
            listed = len(emitted) <= MAX_CHANGES and _TOO_MANY not in emitted
            messages.append(
                (
                    channel,
                    StreamMessage(
                        version=latest.get(channel, 0) + 1,
                        snapshot=not listed,
                        state=await kind.read_state(pk),
                        changes=tuple(
                            {key: change.get(key) for key in kind.change_keys} for change in emitted
                        )
                        if listed
                        else (),
                    ),
                )
            )
        await insert_rows(
            "stream_event",
            _EVENT_COLUMNS,
            [
                (channel, m.version, _kind_of(channel)[0].name, json.dumps(m.to_json()), now)
                for channel, m in messages
            ],
        )
        for channel, message in messages:
            if message.version % PRUNE_EVERY == 0:
                await StreamEvent.filter(
                    stream=channel, version__lte=message.version - KEEP_VERSIONS
                ).delete()
    return messages


class _Sequencer:
    """This process's sequencing passes: one at a time, each covering every stream that
    asked for one before it started (group commit)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._asked: set[str] = set()
        self._started = 0

    def _for_this_loop(self) -> None:
        # A process may run several event loops one after the other (a command, then the
        # server); an asyncio lock belongs to one, so each loop gets its own.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._lock = loop, asyncio.Lock()

    async def sequence(self, channels: set[str]) -> None:
        """Return once a pass that started after this call has sequenced and published
        `channels`' stored changes."""
        self._for_this_loop()
        self._asked |= channels
        ticket = self._started
        async with self._lock:
            if self._started > ticket:
                # A pass began after `channels` were asked for, took them, and is done.
                return
            self._started += 1
            asked, self._asked = self._asked, set()
            try:
                messages = await _sequence_pass(sorted(asked))
            except Exception:
                # The changes stay stored: the next pass of these streams, or the sweep,
                # sequences them. The work that made them is committed; it stands.
                logger.exception("sequencing the changes of %s failed", sorted(asked))
                return
        await _publish(messages)


_sequencer = _Sequencer()


async def sequence_stragglers() -> int:
    """Sequence the changes a process left without a version (it died after its commit);
    return how many messages that made. A background sweep."""
    stale = clock.now() - timedelta(seconds=STRAGGLER_SECONDS)
    channels = (
        await StreamChange.filter(created_at__lt=stale).distinct().values_list("stream", flat=True)
    )
    if not channels:
        return 0
    messages = await _sequence_pass(sorted(set(channels)))
    await _publish(messages)
    return len(messages)


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
