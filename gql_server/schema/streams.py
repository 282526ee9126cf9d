"""Messages of the live streams (subscriptions), built from the stream messages services store.

Every message carries `version` (grows by one per message of its stream) and `snapshot`,
the absolute state the stream concerns, and the list of what changed.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from gql_server.models import enums as domain
from gql_server.schema.enums import CloseReason, TaskStatus
from gql_server.schema.relay import to_global_id
from gql_server.schema.types import BudgetFigures, Money
from gql_server.services.streams import StreamMessage


def _id(type_name: str, pk: int | None) -> strawberry.ID | None:
    return to_global_id(type_name, pk) if pk is not None else None


@strawberry.interface(
    name="StreamMessage",
    description="A message of a live stream. `version` grows by exactly one per message of "
    "the stream, so a gap means something was missed: resubscribe with `resumeFrom`.",
)
class LiveMessage:
    version: int
    snapshot: bool = strawberry.field(
        description="The state stands alone (first message, resynchronisation, or more "
        "changes than are listed): rebuild what you derived instead of applying `changes`."
    )


def _with_other(kinds: type[Enum], name: str, reason: str) -> type[Enum]:
    """The domain's kinds of change, and OTHER, which clients may list but is never sent."""
    members: dict[str, Any] = {kind.name: kind.value for kind in kinds}
    members["OTHER"] = strawberry.enum_value("other", deprecation_reason=reason)
    return Enum(name, members)  # type: ignore[return-value]


BudgetChangeCause = strawberry.enum(
    _with_other(
        domain.FiguresChange, "BudgetChangeCause", "Never sent: every change has its cause."
    ),
    description="What moved a task's or the account's money.",
)


@strawberry.type
class BudgetChange:
    cause: BudgetChangeCause
    task_id: strawberry.ID | None = strawberry.field(description="Null when no task moved.")


@strawberry.type(
    description="A task's figures (taskId set), or the account's: its balance and the sums "
    "over all its tasks."
)
class BudgetMessage(LiveMessage):
    task_id: strawberry.ID | None
    status: TaskStatus | None = strawberry.field(
        description="The task's status; null for the account."
    )
    balance: Money | None = strawberry.field(description="The account's balance; null for a task.")
    figures: BudgetFigures
    changes: list[BudgetChange]

    @classmethod
    def from_stream(cls, message: StreamMessage, currency: domain.Currency) -> BudgetMessage:
        state = message.state

        def money(key: str) -> Money:
            return Money.of(state[key], currency)

        return cls(
            version=message.version,
            snapshot=message.snapshot,
            task_id=_id("Task", state.get("task_id")),
            status=domain.TaskStatus(state["status"]) if "status" in state else None,
            balance=money("balance_minor") if "balance_minor" in state else None,
            figures=BudgetFigures(
                budget=money("budget_minor"),
                committed=money("committed_minor"),
                spent=money("spent_minor"),
                remaining=money("remaining_minor"),
            ),
            changes=[
                BudgetChange(
                    cause=_CAUSES[domain.FiguresChange(change["change"])],
                    task_id=_id("Task", change["task_id"]),
                )
                for change in message.changes
            ],
        )


ReviewQueueChangeKind = strawberry.enum(domain.QueueChange, name="ReviewQueueChangeKind")


@strawberry.type
class ReviewQueueChange:
    kind: ReviewQueueChangeKind
    submission_id: strawberry.ID
    task_id: strawberry.ID


@strawberry.type(description="A task's review queue (taskId set), or the account's.")
class ReviewQueueMessage(LiveMessage):
    task_id: strawberry.ID | None
    length: int = strawberry.field(description="Submissions waiting for review now.")
    changes: list[ReviewQueueChange]

    @classmethod
    def from_stream(cls, message: StreamMessage) -> ReviewQueueMessage:
        return cls(
            version=message.version,
            snapshot=message.snapshot,
            task_id=_id("Task", message.state.get("task_id")),
            length=message.state["length"],
            changes=[
                ReviewQueueChange(
                    kind=domain.QueueChange(change["change"]),
                    submission_id=to_global_id("Submission", change["submission_id"]),
                    task_id=to_global_id("Task", change["task_id"]),
                )
                for change in message.changes
            ],
        )


AuditLockChangeKind = strawberry.enum(domain.LockChange, name="AuditLockChangeKind")


@strawberry.type(description="An audit lock (lease) of one submission.")
class AuditLockState:
    submission_id: strawberry.ID
    task_id: strawberry.ID
    holder_id: strawberry.ID | None = strawberry.field(
        description="The member holding it; null once released or expired."
    )
    fencing_token: int
    expires_at: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditLockState:
        expires = data["expires_at"]
        return cls(
            submission_id=to_global_id("Submission", data["submission_id"]),
            task_id=to_global_id("Task", data["task_id"]),
            holder_id=_id("Member", data["holder_id"]),
            fencing_token=data["fencing_token"],
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )


@strawberry.type
class AuditLockChange:
    kind: AuditLockChangeKind
    lock: AuditLockState


@strawberry.type(description="The audit locks of a task (taskId set) or of a batch's tasks.")
class AuditLocksMessage(LiveMessage):
    task_id: strawberry.ID | None
    batch_id: strawberry.ID | None
    held_count: int = strawberry.field(description="Locks held now.")
    locks: list[AuditLockState] = strawberry.field(
        description="The locks held now, soonest to expire first (at most 200)."
    )
    changes: list[AuditLockChange]

    @classmethod
    def from_stream(cls, message: StreamMessage) -> AuditLocksMessage:
        state = message.state
        return cls(
            version=message.version,
            snapshot=message.snapshot,
            task_id=_id("Task", state.get("task_id")),
            batch_id=_id("Batch", state.get("batch_id")),
            held_count=state["held"],
            locks=[AuditLockState.from_json(lock) for lock in state["locks"]],
            changes=[
                AuditLockChange(
                    kind=domain.LockChange(change["change"]),
                    lock=AuditLockState.from_json(change),
                )
                for change in message.changes
            ],
        )


TaskEventKind = strawberry.enum(
    _with_other(domain.TaskChange, "TaskEventKind", "Never sent: every event has its kind.")
)


@strawberry.type(description="Something that happened to a task.")
class TaskEvent:
    kind: TaskEventKind
    close_reason: CloseReason | None = strawberry.field(description="For CLOSED.")
    rule_id: strawberry.ID | None = strawberry.field(description="For RULE_FIRED: the rule.")
    action: str | None = strawberry.field(description="For RULE_FIRED: what the rule did.")
    worker_id: strawberry.ID | None = strawberry.field(
        description="For RULE_FIRED: the worker it acted on."
    )
    submission_id: strawberry.ID | None = strawberry.field(
        description="For RULE_FIRED: the submission that set it off."
    )


@strawberry.type(description="A task's status, and what happened to it.")
class TaskEventsMessage(LiveMessage):
    task_id: strawberry.ID
    status: TaskStatus
    close_reason: CloseReason | None
    changes: list[TaskEvent]

    @classmethod
    def from_stream(cls, message: StreamMessage) -> TaskEventsMessage:
        state = message.state

        def reason(value: str | None) -> domain.CloseReason | None:
            return domain.CloseReason(value) if value else None

        return cls(
            version=message.version,
            snapshot=message.snapshot,
            task_id=to_global_id("Task", state["task_id"]),
            status=domain.TaskStatus(state["status"]),
            close_reason=reason(state["close_reason"]),
            changes=[
                TaskEvent(
                    kind=_TASK_KINDS[domain.TaskChange(change["change"])],
                    close_reason=reason(change["close_reason"]),
                    rule_id=_id("Rule", change["rule_id"]),
                    action=change["action"],
                    worker_id=_id("Worker", change["worker_id"]),
                    submission_id=_id("Submission", change["submission_id"]),
                )
                for change in message.changes
            ],
        )


# Each change the domain records, as the API names it (the same name; decoding a stored
# change is strict, so an unknown one fails loudly instead of showing as OTHER).
_CAUSES = {change: BudgetChangeCause[change.name] for change in domain.FiguresChange}
_TASK_KINDS = {change: TaskEventKind[change.name] for change in domain.TaskChange}
