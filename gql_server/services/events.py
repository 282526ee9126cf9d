"""Domain events and the unit of work that carries them to their handlers.

A use case runs in one unit of work (one transaction) and raises typed domain events for
what it changed. Each event goes, at once and in the transaction, to every installed
handler in their declared order (`services/handlers.py` declares it, once); a handler may
act and raise events of its own, which are handled the same way before the first handler
call returns (depth first), so every consequence of a change commits with it. Just before
the transaction commits, each handler may finish what it gathered (the stream log stores
its messages); after the commit, it may tell the world (the broadcast). A unit of work that
rolls back runs no after-commit step, so nothing is published for a change that did not
happen.

Nothing here knows who handles what: this module imports none of its consumers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from gql_server.models.enums import (
    CloseReason,
    FiguresChange,
    LockChange,
    SubmissionState,
    TaskChange,
    ThreadChange,
)

T = TypeVar("T")


# --- the events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened in the domain; raised by the use case that made it happen."""


@dataclass(frozen=True)
class AccountFunded(DomainEvent):
    account_id: int


@dataclass(frozen=True)
class TaskFiguresChanged(DomainEvent):
    """A task's money moved outside the work on it (publishing, a budget change, a top-up)."""

    account_id: int
    task_id: int
    change: FiguresChange


@dataclass(frozen=True)
class TaskStatusChanged(DomainEvent):
    """A task was opened, paused, resumed or closed (closing also returned its remaining)."""

    account_id: int
    task_id: int
    change: TaskChange
    close_reason: CloseReason | None = None


@dataclass(frozen=True)
class SubmissionStarted(DomainEvent):
    """A worker started: one reward of the task's remaining budget is committed."""

    account_id: int
    task_id: int
    submission_id: int
    worker_id: int


@dataclass(frozen=True)
class SubmissionSubmitted(DomainEvent):
    """A worker sent a response; the submission waits for review."""

    account_id: int
    task_id: int
    submission_id: int
    worker_id: int


@dataclass(frozen=True)
class SubmissionDisputed(DomainEvent):
    account_id: int
    task_id: int
    submission_id: int
    worker_id: int


@dataclass(frozen=True)
class Reviewed:
    """One submission of a review, with what its worker was paid by it."""

    submission_id: int
    worker_id: int
    paid_minor: int


@dataclass(frozen=True)
class SubmissionsReviewed(DomainEvent):
    """Submissions of one task got a decision: `state` is where they moved.

    APPROVED (paid), REJECTED (released), PARTIALLY_PAID (a dispute's partial payment) or
    REVISION_REQUESTED (sent back, nothing moved). `from_dispute`: the decision resolved
    disputes, whose payments come from the remaining budget. `figures`: how the budget
    streams name the money it moved (None when it moved none that they show).
    """

    account_id: int
    task_id: int
    state: SubmissionState
    submissions: tuple[Reviewed, ...]
    figures: FiguresChange | None
    from_dispute: bool = False

    @property
    def paid(self) -> bool:
        return any(item.paid_minor for item in self.submissions)


@dataclass(frozen=True)
class BonusPaid(DomainEvent):
    """A bonus on paid work, spent from the task's remaining budget."""

    account_id: int
    task_id: int
    submission_id: int
    worker_id: int
    amount_minor: int


@dataclass(frozen=True)
class SubmissionsExpired(DomainEvent):
    """Work not sent in time: its rewards and slots were released."""

    account_id: int
    task_id: int
    submission_ids: tuple[int, ...]


@dataclass(frozen=True)
class SubmissionAudited(DomainEvent):
    account_id: int
    task_id: int
    submission_id: int
    worker_id: int


@dataclass(frozen=True)
class AuditLockChanged(DomainEvent):
    task_id: int
    batch_id: int | None
    submission_id: int
    change: LockChange
    holder_id: int | None
    fencing_token: int
    expires_at: datetime | None


@dataclass(frozen=True)
class RuleFired(DomainEvent):
    """A quality-control rule acted because of work on a task."""

    task_id: int
    rule_id: int
    action: str
    worker_id: int | None
    submission_id: int | None


@dataclass(frozen=True)
class ThreadChanged(DomainEvent):
    """A worker asked or replied, the team replied, a thread closed or turned overdue."""

    account_id: int
    task_id: int | None
    thread_id: int
    worker_id: int
    change: ThreadChange


# --- handlers ---------------------------------------------------------------------------------


class Handler:
    """What follows events: override what applies. Handlers keep no state of their own;
    what they gather for the commit lives on the unit of work (`UnitOfWork.gathered`)."""

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        """In the transaction, right after `event` was raised."""

    async def before_commit(self, work: UnitOfWork) -> None:
        """In the transaction, after every event of the unit of work was handled."""

    async def after_commit(self, work: UnitOfWork) -> None:
        """After the commit; never for a unit of work that rolled back."""


_handlers: tuple[Handler, ...] | None = None


def install_handlers(handlers: Sequence[Handler]) -> None:
    """Install what follows events, in order (called once, by `services.handlers.install`)."""
    global _handlers
    _handlers = tuple(handlers)


def installed_handlers() -> tuple[Handler, ...]:
    if _handlers is None:
        raise RuntimeError(
            "no event handlers installed: open the database with gql_server.db.open_database"
        )
    return _handlers


# --- the unit of work -------------------------------------------------------------------------


@dataclass(eq=False)
class UnitOfWork:
    handlers: tuple[Handler, ...]
    # How many events are being handled right now, one inside the other: 1 while the
    # handlers of an event the use case raised run, more for events their actions raised.
    depth: int = 0
    # Lists handlers gather into for the commit, by name; see `gathered`.
    _gathered: dict[str, list[Any]] = field(default_factory=dict)
    # Per-unit-of-work state of handlers that is not rolled back with a savepoint.
    _state: dict[str, Any] = field(default_factory=dict)

    async def raise_event(self, event: DomainEvent) -> None:
        """Hand `event` to every handler, in order, before returning."""
        self.depth += 1
        try:
            for handler in self.handlers:
                await handler.handle(self, event)
        finally:
            self.depth -= 1

    def gathered(self, name: str) -> list[Any]:
        """A list kept for the commit; a savepoint that rolls back forgets what it added."""
        return self._gathered.setdefault(name, [])

    def state(self, name: str, factory: Callable[[], T]) -> T:
        """State a handler keeps for this unit of work (a rule cascade, say)."""
        if name not in self._state:
            self._state[name] = factory()
        return self._state[name]  # type: ignore[no-any-return]

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part that may fail alone: its changes and what was gathered for them go."""
        marks = {name: len(items) for name, items in self._gathered.items()}
        try:
            async with in_transaction():
                yield
        except BaseException:
            for name, items in self._gathered.items():
                del items[marks.get(name, 0) :]
            raise


_current: ContextVar[UnitOfWork | None] = ContextVar("unit_of_work", default=None)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    """One transaction whose events are handled in it; after-commit steps run on commit only.

    Inside another unit of work it is a savepoint of that one (its events join the outer
    ones), so nothing is published before the outermost transaction commits.
    """
    outer = _current.get()
    if outer is not None:
        async with outer.savepoint():
            yield outer
        return
    work = UnitOfWork(installed_handlers())
    token = _current.set(work)
    try:
        async with in_transaction():
            yield work
            for handler in work.handlers:
                await handler.before_commit(work)
    finally:
        _current.reset(token)
    for handler in work.handlers:
        await handler.after_commit(work)
