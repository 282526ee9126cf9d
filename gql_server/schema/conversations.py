"""Talking with workers: threads and their messages (a member's and a worker's view),
announcements, a task's instructions with its FAQ and history, the figures, the stream."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from gql_server import clock, models
from gql_server.models import enums as domain
from gql_server.schema.cost import MESSAGES_ASSUMED, ListSize
from gql_server.schema.errors import UserError
from gql_server.schema.relay import Connection, Node, to_global_id
from gql_server.schema.streams import LiveMessage
from gql_server.schema.types import (
    Account,
    FaqEntry,
    Info,
    InstructionRevision,
    Member,
    Task,
    Worker,
)
from gql_server.services import conversations
from gql_server.services.principals import MemberPrincipal
from gql_server.services.streams import StreamMessage

ThreadState = strawberry.enum(
    domain.ThreadState,
    description="OPEN: waiting for the team; ANSWERED: waiting for the worker; CLOSED.",
)
MessageKind = strawberry.enum(
    domain.MessageKind,
    description="QUESTION opened the thread; REPLY by either side; MESSAGE: the team wrote "
    "first; REVIEW_NOTE: the team's note on a review of the thread's submission.",
)


@strawberry.enum(description="Who wrote a message.")
class MessageAuthor(StrEnum):
    WORKER = "WORKER"
    TEAM = "TEAM"


def _id(type_name: str, pk: int | None) -> strawberry.ID | None:
    return to_global_id(type_name, pk) if pk is not None else None


@strawberry.type(description="One message of a thread.")
class ThreadMessage:
    author: MessageAuthor
    kind: MessageKind
    body: str
    created_at: datetime
    member_pk: strawberry.Private[int | None]

    @strawberry.field(description="The member who wrote it; null for workers reading it.")
    async def member(self, info: Info) -> Member | None:
        if self.member_pk is None or not isinstance(info.context.principal, MemberPrincipal):
            return None
        return Member.from_model(await info.context.loaders.member.load(self.member_pk))

    @classmethod
    def from_model(cls, row: models.ThreadMessage) -> ThreadMessage:
        author = (
            MessageAuthor.WORKER
            if row.author_kind == domain.ActorKind.WORKER
            else MessageAuthor.TEAM
        )
        return cls(
            author=author,
            kind=row.kind,
            body=row.body,
            created_at=row.created_at,
            member_pk=row.member_id,
        )


@strawberry.interface(description="What members and the worker see of a thread alike.")
class ThreadFields:
    state: ThreadState
    task_id: strawberry.ID | None = strawberry.field(description="The task it is about.")
    submission_id: strawberry.ID | None = strawberry.field(
        description="The submission it is about, if any."
    )
    asked_at: datetime | None = strawberry.field(
        description="When the worker asked; null for a thread the team opened."
    )
    due_at: datetime | None = strawberry.field(
        description="While OPEN: when the team means to have answered (the worker's message "
        "plus the account's response target)."
    )
    overdue: bool = strawberry.field(description="OPEN past its due time.")
    last_message_at: datetime
    closed_at: datetime | None
    pk: strawberry.Private[int]

    @strawberry.field(
        description="Every message, oldest first.",
        # Priced as a long conversation; MAX_MESSAGES_PER_THREAD bounds the worst case.
        directives=[ListSize(assumed_size=MESSAGES_ASSUMED)],
    )
    async def messages(self, info: Info) -> list[ThreadMessage]:
        rows = await info.context.loaders.thread_messages.load(self.pk)
        return [ThreadMessage.from_model(row) for row in rows]


def _fields(thread: models.Thread) -> dict[str, object]:
    now = clock.now()
    return {
        "id": to_global_id("Thread", thread.id),
        "state": thread.state,
        "task_id": _id("Task", thread.task_id),
        "submission_id": _id("Submission", thread.submission_id),
        "asked_at": thread.asked_at,
        "due_at": thread.due_at,
        "overdue": thread.state == domain.ThreadState.OPEN
        and thread.due_at is not None
        and thread.due_at <= now,
        "last_message_at": thread.last_message_at,
        "closed_at": thread.closed_at,
        "pk": thread.id,
    }


@strawberry.type(description="A conversation with a worker about a task or a submission.")
class Thread(Node, ThreadFields):
    first_response_seconds: int | None = strawberry.field(
        description="Seconds from the question to the team's first answer."
    )
    worker_pk: strawberry.Private[int]
    task_pk: strawberry.Private[int | None]

    @strawberry.field
    async def worker(self, info: Info) -> Worker:
        return Worker.from_model(await info.context.loaders.worker.load(self.worker_pk))

    @strawberry.field
    async def task(self, info: Info) -> Task | None:
        if self.task_pk is None:
            return None
        row = await info.context.loaders.task.load(self.task_pk)
        return Task.from_model(row, (await info.context.account()).currency)

    @classmethod
    def from_model(cls, thread: models.Thread) -> Thread:
        return cls(  # type: ignore[arg-type]
            **_fields(thread),
            first_response_seconds=thread.first_response_seconds,
            worker_pk=thread.worker_id,
            task_pk=thread.task_id,
        )


@strawberry.type(description="A thread of yours with a requester's team.")
class MyThread(Node, ThreadFields):
    @classmethod
    def from_model(cls, thread: models.Thread) -> MyThread:
        return cls(**_fields(thread))  # type: ignore[arg-type]


ThreadConnection = Connection[Thread]
MyThreadConnection = Connection[MyThread]


@strawberry.type(description="A message from a requester to the workers of one of its tasks.")
class MyAnnouncement:
    task_id: strawberry.ID
    body: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.Announcement) -> MyAnnouncement:
        return cls(
            task_id=to_global_id("Task", row.task_id), body=row.body, created_at=row.created_at
        )


MyAnnouncementConnection = Connection[MyAnnouncement]


@strawberry.type(description="An announcement sent to every worker with a submission on a task.")
class Announcement:
    task_id: strawberry.ID
    body: str
    day: str = strawberry.field(description="The account's day it counts for (one a day).")
    recipient_count: int
    recipient_ids: list[strawberry.ID] = strawberry.field(
        description="The workers it reached (ids of Worker)."
    )
    created_at: datetime

    @classmethod
    def from_sent(cls, sent: conversations.Sent) -> Announcement:
        row = sent.announcement
        return cls(
            task_id=to_global_id("Task", row.task_id),
            body=row.body,
            day=row.day.isoformat(),
            recipient_count=row.recipient_count,
            recipient_ids=[to_global_id("Worker", pk) for pk in sent.recipient_ids],
            created_at=row.created_at,
        )


@strawberry.type(description="A task's instructions as a worker sees them, with its FAQ.")
class TaskInstructions:
    task_id: strawberry.ID
    title: str
    instructions: str
    faq: list[FaqEntry]
    revisions: list[InstructionRevision] = strawberry.field(
        description="Every version of the instructions, oldest first (empty while unchanged)."
    )
    agreed_revision: int | None = strawberry.field(
        description="The version in effect when you first started the task."
    )

    @classmethod
    def from_result(cls, found: conversations.TaskInstructions) -> TaskInstructions:
        return cls(
            task_id=to_global_id("Task", found.task.id),
            title=found.task.title,
            instructions=found.task.instructions,
            faq=[FaqEntry.from_model(e) for e in found.faq],
            revisions=[InstructionRevision.from_model(r) for r in found.revisions],
            agreed_revision=found.agreed_revision,
        )


@strawberry.type
class QuestionsOfTask:
    task_id: strawberry.ID
    questions: int


@strawberry.type(
    description="Threads now (open, overdue, answered) and the figures of the questions "
    "asked in the period."
)
class ThreadSummary:
    open_count: int
    overdue_count: int
    answered_count: int
    questions: int
    median_first_response_seconds: float | None = strawberry.field(
        description="Median seconds from a question to the team's first answer; null when "
        "none was answered."
    )
    answered_within_target: float | None = strawberry.field(
        description="Percent of questions answered within the response target, of those "
        "answered or unanswered past their due time; null when there are none."
    )
    questions_per_task: list[QuestionsOfTask] = strawberry.field(
        description="The most asked tasks first (at most 100)."
    )

    @classmethod
    def from_result(cls, found: conversations.ThreadSummary) -> ThreadSummary:
        return cls(
            open_count=found.open,
            overdue_count=found.overdue,
            answered_count=found.answered,
            questions=found.questions,
            median_first_response_seconds=found.median_first_response_seconds,
            answered_within_target=found.answered_within_target,
            questions_per_task=[
                QuestionsOfTask(task_id=to_global_id("Task", pk), questions=n)
                for pk, n in found.per_task
            ],
        )


# --- the stream ------------------------------------------------------------------------------

ThreadChangeKind = strawberry.enum(domain.ThreadChange, name="ThreadChangeKind")


@strawberry.type
class ThreadChange:
    kind: ThreadChangeKind
    thread_id: strawberry.ID
    task_id: strawberry.ID | None
    worker_id: strawberry.ID


@strawberry.type(description="A task's question threads (taskId set), or the account's.")
class ThreadActivityMessage(LiveMessage):
    task_id: strawberry.ID | None
    open_count: int = strawberry.field(description="Threads waiting for the team now.")
    overdue_count: int = strawberry.field(description="Of those, past their due time.")
    changes: list[ThreadChange]

    @classmethod
    def from_stream(cls, message: StreamMessage) -> ThreadActivityMessage:
        state = message.state
        return cls(
            version=message.version,
            snapshot=message.snapshot,
            task_id=_id("Task", state.get("task_id")),
            open_count=state["open"],
            overdue_count=state["overdue"],
            changes=[
                ThreadChange(
                    kind=domain.ThreadChange(change["change"]),
                    thread_id=to_global_id("Thread", change["thread_id"]),
                    task_id=_id("Task", change["task_id"]),
                    worker_id=to_global_id("Worker", change["worker_id"]),
                )
                for change in message.changes
            ],
        )


# --- inputs ------------------------------------------------------------------------------


@strawberry.input(description="A question about a task, or about one of your submissions.")
class AskQuestionInput:
    task_id: strawberry.ID | None = None
    submission_id: strawberry.ID | None = None
    body: str = strawberry.field(description="1 to 5000 characters.")


@strawberry.input
class ThreadReplyInput:
    thread_id: strawberry.ID
    body: str = strawberry.field(description="1 to 5000 characters.")


@strawberry.input
class CloseThreadInput:
    thread_id: strawberry.ID


@strawberry.input(description="A message to a worker who worked on the account's tasks.")
class MessageWorkerInput:
    worker_id: strawberry.ID
    task_id: strawberry.ID | None = strawberry.field(
        default=None, description="The task it is about; the worker must have worked on it."
    )
    body: str = strawberry.field(description="1 to 5000 characters.")


@strawberry.input
class SendAnnouncementInput:
    task_id: strawberry.ID
    body: str = strawberry.field(description="1 to 5000 characters.")


@strawberry.input
class PublishFaqEntryInput:
    task_id: strawberry.ID
    question: str = strawberry.field(description="1 to 1000 characters.")
    answer: str = strawberry.field(description="1 to 5000 characters.")
    thread_id: strawberry.ID | None = strawberry.field(
        default=None, description="The worker's thread the question came from."
    )


@strawberry.input
class RemoveFaqEntryInput:
    entry_id: strawberry.ID


@strawberry.input
class SetThreadResponseTargetInput:
    seconds: int = strawberry.field(description="3600 (an hour) to 604800 (a week).")


@strawberry.input(description="Every field narrows.")
class ThreadFilter:
    task_id: strawberry.ID | None = None
    worker_id: strawberry.ID | None = None
    state: ThreadState | None = None
    overdue: bool | None = strawberry.field(
        default=None, description="true: only overdue threads; false: only the others."
    )


# --- payloads ----------------------------------------------------------------------------


@strawberry.type
class ThreadPayload:
    thread: Thread | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MyThreadPayload:
    thread: MyThread | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SendAnnouncementPayload:
    announcement: Announcement | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FaqEntryPayload:
    entry: FaqEntry | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetThreadResponseTargetPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
