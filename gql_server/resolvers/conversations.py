"""Talking with workers: questions and replies, messages and announcements from the team,
a task's FAQ and instructions, the threads of the account and their figures.

Workers reach only their own threads, the announcements that reached them, and the
instructions of tasks they may see; members only their account's threads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from gql_server import models
from gql_server.resolvers.common import Info, filter_pk, mutate, page, query
from gql_server.resolvers.permissions import CanManage, IsMember, IsOwner, IsWorker
from gql_server.schema.conversations import (
    Announcement,
    AskQuestionInput,
    CloseThreadInput,
    FaqEntryPayload,
    MessageWorkerInput,
    MyAnnouncement,
    MyAnnouncementConnection,
    MyThread,
    MyThreadConnection,
    MyThreadPayload,
    PublishFaqEntryInput,
    RemoveFaqEntryInput,
    SendAnnouncementInput,
    SendAnnouncementPayload,
    SetThreadResponseTargetInput,
    SetThreadResponseTargetPayload,
    TaskInstructions,
    Thread,
    ThreadConnection,
    ThreadFilter,
    ThreadPayload,
    ThreadReplyInput,
    ThreadSummary,
)
from gql_server.schema.types import Account, FaqEntry
from gql_server.services import conversations
from gql_server.services.global_ids import pk_of, require_pk


def _optional_pk(global_id: strawberry.ID | None, type_name: str, name: str) -> int | None:
    """An optional input id: None when absent; malformed or of another type: NOT_FOUND."""
    return None if global_id is None else require_pk(global_id, type_name, name)


async def _thread(thread: models.Thread) -> dict[str, Any]:
    return {"thread": Thread.from_model(thread)}


async def _my_thread(thread: models.Thread) -> dict[str, Any]:
    return {"thread": MyThread.from_model(thread)}


async def _entry(entry: models.FaqEntry) -> dict[str, Any]:
    return {"entry": FaqEntry.from_model(entry)}


@strawberry.type
class ConversationQueries:
    @strawberry.field(
        permission_classes=[IsMember],
        description="The account's threads with workers, the latest message first.",
    )
    async def threads(
        self,
        info: Info,
        filter: ThreadFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ThreadConnection:
        given = filter or ThreadFilter()

        async def action() -> Any:
            wanted = conversations.ThreadFilter(
                task_id=filter_pk(given.task_id, "Task", "task_id"),
                worker_id=filter_pk(given.worker_id, "Worker", "worker_id"),
                state=given.state,
                overdue=given.overdue,
            )
            return await conversations.list_threads(
                info.context.member.account_id, wanted, page(first, after, last, before)
            )

        return ThreadConnection.from_page(await query(action), Thread.from_model)

    @strawberry.field(
        permission_classes=[IsMember],
        description="Open, overdue and answered threads now (of a task, or the account's), "
        "and for the questions asked in [from, to): the median first-response time, the "
        "share answered within the response target, questions per task.",
    )
    async def thread_summary(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> ThreadSummary:
        async def action() -> Any:
            return await conversations.summary(
                info.context.member.account_id,
                _optional_pk(task_id, "Task", "task_id"),
                from_,
                to,
            )

        return ThreadSummary.from_result(await query(action))

    @strawberry.field(
        permission_classes=[IsWorker],
        description="Your threads with requesters' teams, the latest message first.",
    )
    async def my_threads(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MyThreadConnection:
        result = await query(
            lambda: conversations.worker_threads(
                info.context.worker.worker_id, page(first, after, last, before)
            )
        )
        return MyThreadConnection.from_page(result, MyThread.from_model)

    @strawberry.field(
        permission_classes=[IsWorker],
        description="Announcements of the tasks you worked on, newest first.",
    )
    async def my_announcements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MyAnnouncementConnection:
        result = await query(
            lambda: conversations.worker_announcements(
                info.context.worker.worker_id, page(first, after, last, before)
            )
        )
        return MyAnnouncementConnection.from_page(result, MyAnnouncement.from_model)

    @strawberry.field(
        permission_classes=[IsWorker],
        description="A task's instructions with its FAQ and the instructions' history; null "
        "for a task you may not see.",
    )
    async def task_instructions(
        self, info: Info, task_id: strawberry.ID
    ) -> TaskInstructions | None:
        found = await conversations.task_instructions(info.context.worker, pk_of(task_id, "Task"))
        return TaskInstructions.from_result(found) if found else None


@strawberry.type
class ConversationMutations:
    @strawberry.mutation(
        permission_classes=[IsWorker],
        description="Ask the task's team a question (about a task you may see or worked on, "
        "or one of your submissions); at most 5 a day per task.",
    )
    async def ask_question(self, info: Info, input: AskQuestionInput) -> MyThreadPayload:
        return await mutate(
            MyThreadPayload,
            lambda: conversations.ask_question(
                info.context.worker,
                _optional_pk(input.task_id, "Task", "task_id"),
                _optional_pk(input.submission_id, "Submission", "submission_id"),
                input.body,
            ),
            _my_thread,
        )

    @strawberry.mutation(
        permission_classes=[IsWorker],
        description="Write in your thread; an ANSWERED thread opens again.",
    )
    async def reply_to_team(self, info: Info, input: ThreadReplyInput) -> MyThreadPayload:
        return await mutate(
            MyThreadPayload,
            lambda: conversations.reply_as_worker(
                info.context.worker, pk_of(input.thread_id, "Thread"), input.body
            ),
            _my_thread,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Answer in a worker's thread: OPEN -> ANSWERED.",
    )
    async def reply_to_thread(self, info: Info, input: ThreadReplyInput) -> ThreadPayload:
        return await mutate(
            ThreadPayload,
            lambda: conversations.reply_to_thread(
                info.context.member, pk_of(input.thread_id, "Thread"), input.body
            ),
            _thread,
        )

    @strawberry.mutation(permission_classes=[CanManage], description="No more messages.")
    async def close_thread(self, info: Info, input: CloseThreadInput) -> ThreadPayload:
        return await mutate(
            ThreadPayload,
            lambda: conversations.close_thread(
                info.context.member, pk_of(input.thread_id, "Thread")
            ),
            _thread,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Write to one worker who worked on the account's tasks (a new thread).",
    )
    async def message_worker(self, info: Info, input: MessageWorkerInput) -> ThreadPayload:
        return await mutate(
            ThreadPayload,
            lambda: conversations.message_worker(
                info.context.member,
                pk_of(input.worker_id, "Worker"),
                _optional_pk(input.task_id, "Task", "task_id"),
                input.body,
            ),
            _thread,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Write to every worker with a submission on the task; one a day per "
        "task (else LIMIT_REACHED).",
    )
    async def send_announcement(
        self, info: Info, input: SendAnnouncementInput
    ) -> SendAnnouncementPayload:
        async def present(sent: conversations.Sent) -> dict[str, Any]:
            return {"announcement": Announcement.from_sent(sent)}

        return await mutate(
            SendAnnouncementPayload,
            lambda: conversations.send_announcement(
                info.context.member, pk_of(input.task_id, "Task"), input.body
            ),
            present,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Add a question and its answer to the task's FAQ.",
    )
    async def publish_faq_entry(self, info: Info, input: PublishFaqEntryInput) -> FaqEntryPayload:
        return await mutate(
            FaqEntryPayload,
            lambda: conversations.publish_faq_entry(
                info.context.member,
                pk_of(input.task_id, "Task"),
                input.question,
                input.answer,
                _optional_pk(input.thread_id, "Thread", "thread_id"),
            ),
            _entry,
        )

    @strawberry.mutation(permission_classes=[CanManage], description="Take an entry off the FAQ.")
    async def remove_faq_entry(self, info: Info, input: RemoveFaqEntryInput) -> FaqEntryPayload:
        return await mutate(
            FaqEntryPayload,
            lambda: conversations.remove_faq_entry(
                info.context.member, pk_of(input.entry_id, "FaqEntry")
            ),
            _entry,
        )

    @strawberry.mutation(
        permission_classes=[IsOwner],
        description="How long after a question it is due (24 hours unless set); threads "
        "already waiting keep their due time.",
    )
    async def set_thread_response_target(
        self, info: Info, input: SetThreadResponseTargetInput
    ) -> SetThreadResponseTargetPayload:
        async def present(account: models.Account) -> dict[str, Any]:
            return {"account": Account.from_model(account)}

        return await mutate(
            SetThreadResponseTargetPayload,
            lambda: conversations.set_response_target(info.context.member, input.seconds),
            present,
        )
