"""The worker's side: what to take, starting and submitting, disputes, ratings."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server.models import Account
from gql_server.resolvers.common import Info, mutate, page, query
from gql_server.resolvers.permissions import IsWorker
from gql_server.schema.enums import SubmissionState
from gql_server.schema.inputs import (
    DisputeRejectionInput,
    RateTaskInput,
    StartSubmissionInput,
    SubmitSubmissionInput,
)
from gql_server.schema.payloads import MySubmissionPayload, RateTaskPayload
from gql_server.schema.relay import PageInfo
from gql_server.schema.work import (
    MySubmission,
    MySubmissionConnection,
    TaskListing,
    TaskListingConnection,
    TaskListingEdge,
    TaskRating,
)
from gql_server.services import available_tasks, review_queue, submissions
from gql_server.services.global_ids import pk_of


async def _mine(info: Info, submission: Any) -> dict[str, Any]:
    account = await info.context.loaders.account.load(submission.account_id)
    return {"submission": MySubmission.from_model(submission, account.currency)}


@strawberry.type
class WorkQueries:
    @strawberry.field(
        permission_classes=[IsWorker],
        description="Tasks the caller may take now. Listing a task records a view of it.",
    )
    async def available_tasks(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> TaskListingConnection:
        listing = await query(
            lambda: available_tasks.available_tasks(
                info.context.worker, page(first, after, None, None)
            )
        )
        accounts = {
            a.id: a for a in await Account.filter(id__in={t.account_id for _, t in listing.items})
        }
        edges = [
            TaskListingEdge(
                cursor=cursor, node=TaskListing.from_model(task, accounts[task.account_id].currency)
            )
            for cursor, task in listing.items
        ]
        return TaskListingConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=listing.has_next_page,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        permission_classes=[IsWorker], description="The caller's own submissions, newest first."
    )
    async def my_submissions(
        self,
        info: Info,
        states: list[SubmissionState] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MySubmissionConnection:
        result = await query(
            lambda: review_queue.worker_submissions(
                info.context.worker.worker_id,
                list(states) if states else None,
                page(first, after, last, before),
            )
        )
        accounts = {
            a.id: a for a in await Account.filter(id__in={s.account_id for _, s in result.items})
        }
        return MySubmissionConnection.from_page(
            result, lambda s: MySubmission.from_model(s, accounts[s.account_id].currency)
        )


@strawberry.type
class WorkMutations:
    @strawberry.mutation(
        permission_classes=[IsWorker], description="Start a task: reserves one reward for you."
    )
    async def start_submission(
        self, info: Info, input: StartSubmissionInput
    ) -> MySubmissionPayload:
        worker = info.context.worker
        return await mutate(
            MySubmissionPayload,
            lambda: submissions.start_submission(
                worker,
                pk_of(input.task_id, "Task"),
                input.idempotency_key,
            ),
            lambda s: _mine(info, s),
        )

    @strawberry.mutation(
        permission_classes=[IsWorker], description="Send the proof the task asks for."
    )
    async def submit_submission(
        self, info: Info, input: SubmitSubmissionInput
    ) -> MySubmissionPayload:
        response = {item.name: item.value for item in input.response}
        return await mutate(
            MySubmissionPayload,
            lambda: submissions.submit_submission(
                info.context.worker, pk_of(input.submission_id, "Submission"), response
            ),
            lambda s: _mine(info, s),
        )

    @strawberry.mutation(
        permission_classes=[IsWorker], description="REJECTED -> DISPUTED, with your reason."
    )
    async def dispute_rejection(
        self, info: Info, input: DisputeRejectionInput
    ) -> MySubmissionPayload:
        return await mutate(
            MySubmissionPayload,
            lambda: submissions.dispute_rejection(
                info.context.worker, pk_of(input.submission_id, "Submission"), input.reason
            ),
            lambda s: _mine(info, s),
        )

    @strawberry.mutation(
        permission_classes=[IsWorker], description="Rate a task's clarity and fairness, once."
    )
    async def rate_task(self, info: Info, input: RateTaskInput) -> RateTaskPayload:
        async def present(rating: Any) -> dict[str, Any]:
            return {
                "rating": TaskRating(
                    clarity=rating.clarity, fairness=rating.fairness, comment=rating.comment
                )
            }

        return await mutate(
            RateTaskPayload,
            lambda: submissions.rate_task(
                info.context.worker,
                pk_of(input.task_id, "Task"),
                input.clarity,
                input.fairness,
                input.comment,
            ),
            present,
        )
