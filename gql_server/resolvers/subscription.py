"""Root subscriptions: live streams for dashboards, over graphql-transport-ws.

Each one is authorised when it starts (any member may read; workers may not): an id of
another account's task or batch is an error, exactly like an id that does not exist.
The first message is the current state (or, with `resumeFrom`, what changed since that
version), then one message per committed change.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from contextlib import aclosing
from typing import Annotated, TypeVar

import strawberry

from gql_server.resolvers.common import Info, query
from gql_server.resolvers.fan_out import shared_payload
from gql_server.resolvers.permissions import IsMember
from gql_server.schema.conversations import ThreadActivityMessage
from gql_server.schema.streams import (
    AuditLocksMessage,
    BudgetMessage,
    ReviewQueueMessage,
    TaskEventsMessage,
)
from gql_server.services import streams
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.global_ids import pk_of
from gql_server.services.streams import StreamMessage
from gql_server.subscriptions import feed

T = TypeVar("T")

ResumeFrom = Annotated[
    int | None,
    strawberry.argument(
        description="The last version you received: get what changed since, or a snapshot "
        "if that is too far back."
    ),
]


async def _stream(
    channel: Callable[[], Awaitable[str]],
    resume_from: int | None,
    conversion: Hashable,
    convert: Callable[[StreamMessage], T],
) -> AsyncGenerator[T, None]:
    """Check the arguments now (errors end the subscription before it starts).

    `conversion` names what `convert` makes of a message (with anything else it reads),
    so that subscribers handed the same message share one payload (resolvers/fan_out.py).
    """

    async def checked() -> str:
        if resume_from is not None and resume_from < 0:
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "'resumeFrom' is a version, 0 or more.", "resumeFrom"
            )
        return await channel()

    name = await query(checked)

    async def messages() -> AsyncGenerator[T, None]:
        async with aclosing(feed.follow(name, resume_from)) as source:
            async for message in source:
                yield shared_payload(message, conversion, lambda: convert(message))  # noqa: B023

    return messages()


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsMember],
        description="Budget, committed, spent and remaining of one task, or of the account "
        "(its balance and the sums over its tasks) without `taskId`.",
    )
    async def budget(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        resume_from: ResumeFrom = None,
    ) -> AsyncGenerator[BudgetMessage, None]:
        account_id = info.context.member.account_id

        async def channel() -> str:
            if task_id is None:
                return streams.account_budget_channel(account_id)
            pk = await streams.owned_task(account_id, pk_of(task_id, "Task"))
            return streams.task_budget_channel(pk)

        currency = (await info.context.account()).currency
        return await _stream(
            channel,
            resume_from,
            ("budget", currency),
            lambda m: BudgetMessage.from_stream(m, currency),
        )

    @strawberry.subscription(
        permission_classes=[IsMember],
        description="Submissions entering and leaving review, with the queue's length: one "
        "task's, or the account's without `taskId`.",
    )
    async def review_queue(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        resume_from: ResumeFrom = None,
    ) -> AsyncGenerator[ReviewQueueMessage, None]:
        account_id = info.context.member.account_id

        async def channel() -> str:
            if task_id is None:
                return streams.account_queue_channel(account_id)
            pk = await streams.owned_task(account_id, pk_of(task_id, "Task"))
            return streams.task_queue_channel(pk)

        return await _stream(channel, resume_from, "reviewQueue", ReviewQueueMessage.from_stream)

    @strawberry.subscription(
        permission_classes=[IsMember],
        description="Audit locks taken, renewed, released and expired: of one task "
        "(`taskId`) or of the tasks of one batch (`batchId`).",
    )
    async def audit_locks(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        batch_id: strawberry.ID | None = None,
        resume_from: ResumeFrom = None,
    ) -> AsyncGenerator[AuditLocksMessage, None]:
        account_id = info.context.member.account_id

        async def channel() -> str:
            if task_id is not None and batch_id is None:
                pk = await streams.owned_task(account_id, pk_of(task_id, "Task"))
                return streams.task_locks_channel(pk)
            if batch_id is not None and task_id is None:
                pk = await streams.owned_batch(account_id, pk_of(batch_id, "Batch"))
                return streams.batch_locks_channel(pk)
            raise UseCaseError.single(
                ErrorCode.VALIDATION, "Give either 'taskId' or 'batchId'.", "taskId"
            )

        return await _stream(channel, resume_from, "auditLocks", AuditLocksMessage.from_stream)

    @strawberry.subscription(
        permission_classes=[IsMember],
        description="A task's status (opened, paused, resumed, closed with a reason) and the "
        "quality-control rules that fired on its work.",
    )
    async def task_events(
        self,
        info: Info,
        task_id: strawberry.ID,
        resume_from: ResumeFrom = None,
    ) -> AsyncGenerator[TaskEventsMessage, None]:
        account_id = info.context.member.account_id

        async def channel() -> str:
            pk = await streams.owned_task(account_id, pk_of(task_id, "Task"))
            return streams.task_channel(pk)

        return await _stream(channel, resume_from, "taskEvents", TaskEventsMessage.from_stream)

    @strawberry.subscription(
        permission_classes=[IsMember],
        description="Questions asked, replies, closed and overdue threads, with the counts "
        "of open and overdue threads: of one task, or the account's without `taskId`.",
    )
    async def thread_activity(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        resume_from: ResumeFrom = None,
    ) -> AsyncGenerator[ThreadActivityMessage, None]:
        account_id = info.context.member.account_id

        async def channel() -> str:
            if task_id is None:
                return streams.account_threads_channel(account_id)
            pk = await streams.owned_task(account_id, pk_of(task_id, "Task"))
            return streams.task_threads_channel(pk)

        return await _stream(
            channel, resume_from, "threadActivity", ThreadActivityMessage.from_stream
        )
