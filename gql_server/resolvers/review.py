"""The requester's review work: the queue, one submission, decisions, bonuses, disputes."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server.models.enums import DisputeStatus, ReviewDecision
from gql_server.resolvers.common import Info, amount, filter_pk, mutate, page, query
from gql_server.resolvers.permissions import CanManage, IsMember
from gql_server.schema.enums import BulkDecision, DisputeResolution, OrderDirection
from gql_server.schema.errors import user_errors
from gql_server.schema.inputs import (
    ApproveSubmissionInput,
    BulkReviewSubmissionsInput,
    PayBonusInput,
    RejectSubmissionInput,
    RequestRevisionInput,
    ResolveDisputeInput,
    ReviewQueueFilter,
)
from gql_server.schema.payloads import (
    BulkReviewItem,
    BulkReviewSubmissionsPayload,
    SubmissionPayload,
)
from gql_server.schema.work import Submission, SubmissionConnection
from gql_server.services import review, review_queue
from gql_server.services.errors import UseCaseError
from gql_server.services.global_ids import pk_of

_RESOLUTIONS = {
    DisputeResolution.UPHOLD: DisputeStatus.UPHELD,
    DisputeResolution.OVERTURN: DisputeStatus.OVERTURNED,
    DisputeResolution.PARTIAL_PAYMENT: DisputeStatus.PARTIALLY_PAID,
}


async def _submission(info: Info, submission: Any) -> dict[str, Any]:
    return {
        "submission": Submission.from_model(submission, (await info.context.account()).currency)
    }


@strawberry.type
class ReviewQueries:
    @strawberry.field(
        permission_classes=[IsMember],
        description="Submissions waiting for review (account-wide or one task), oldest first.",
    )
    async def review_queue(
        self,
        info: Info,
        filter: ReviewQueueFilter | None = None,
        direction: OrderDirection = OrderDirection.ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SubmissionConnection:
        given = filter or ReviewQueueFilter()

        async def action() -> Any:
            queue_filter = review_queue.QueueFilter(
                task_id=filter_pk(given.task_id, "Task", "task_id"),
                worker_id=filter_pk(given.worker_id, "Worker", "worker_id"),
                submitted_after=given.submitted_after,
                submitted_before=given.submitted_before,
                **({"states": list(given.states)} if given.states else {}),
            )
            return await review_queue.review_queue(
                info.context.member.account_id,
                queue_filter,
                direction == OrderDirection.ASC,
                page(first, after, last, before),
            )

        result = await query(action)
        currency = (await info.context.account()).currency
        return SubmissionConnection.from_page(result, lambda s: Submission.from_model(s, currency))

    @strawberry.field(permission_classes=[IsMember])
    async def submission(self, info: Info, id: strawberry.ID) -> Submission | None:
        pk = pk_of(id, "Submission")
        try:
            found = await review.get_submission(info.context.member.account_id, pk)
        except UseCaseError:
            return None
        return Submission.from_model(found, (await info.context.account()).currency)


@strawberry.type
class ReviewMutations:
    @strawberry.mutation(
        permission_classes=[CanManage],
        description="SUBMITTED -> APPROVED: the worker is paid at once.",
    )
    async def approve_submission(
        self, info: Info, input: ApproveSubmissionInput
    ) -> SubmissionPayload:
        member = info.context.member
        return await mutate(
            SubmissionPayload,
            lambda: review.approve_submission(
                member,
                pk_of(input.submission_id, "Submission"),
                input.idempotency_key,
                input.note,
            ),
            lambda s: _submission(info, s),
        )

    @strawberry.mutation(
        permission_classes=[CanManage], description="SUBMITTED -> REJECTED; feedback is required."
    )
    async def reject_submission(
        self, info: Info, input: RejectSubmissionInput
    ) -> SubmissionPayload:
        member = info.context.member
        return await mutate(
            SubmissionPayload,
            lambda: review.reject_submission(
                member,
                pk_of(input.submission_id, "Submission"),
                input.feedback,
                input.idempotency_key,
            ),
            lambda s: _submission(info, s),
        )

    @strawberry.mutation(
        permission_classes=[CanManage], description="SUBMITTED -> REVISION_REQUESTED."
    )
    async def request_revision(self, info: Info, input: RequestRevisionInput) -> SubmissionPayload:
        return await mutate(
            SubmissionPayload,
            lambda: review.request_revision(
                info.context.member, pk_of(input.submission_id, "Submission"), input.feedback
            ),
            lambda s: _submission(info, s),
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="A bonus on paid work, from the task's remaining.",
    )
    async def pay_bonus(self, info: Info, input: PayBonusInput) -> SubmissionPayload:
        member = info.context.member

        async def action() -> Any:
            minor = amount(input.amount, (await info.context.account()).currency, "amount")
            return await review.pay_bonus(
                member, pk_of(input.submission_id, "Submission"), minor, input.idempotency_key
            )

        return await mutate(SubmissionPayload, action, lambda s: _submission(info, s))

    @strawberry.mutation(
        permission_classes=[CanManage], description="Uphold, overturn (pay) or partially pay."
    )
    async def resolve_dispute(self, info: Info, input: ResolveDisputeInput) -> SubmissionPayload:
        member = info.context.member

        async def action() -> Any:
            currency = (await info.context.account()).currency
            minor = amount(input.amount, currency, "amount") if input.amount is not None else None
            return await review.resolve_dispute(
                member,
                pk_of(input.submission_id, "Submission"),
                _RESOLUTIONS[input.resolution],
                input.note,
                minor,
                input.idempotency_key,
            )

        return await mutate(SubmissionPayload, action, lambda s: _submission(info, s))

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Approve or reject up to 10000 submissions; one result per id, in input order.",
    )
    async def bulk_review_submissions(
        self, info: Info, input: BulkReviewSubmissionsInput
    ) -> BulkReviewSubmissionsPayload:
        member = info.context.member
        decision = (
            ReviewDecision.APPROVED
            if input.decision == BulkDecision.APPROVE
            else ReviewDecision.REJECTED
        )
        try:
            results = await review.bulk_review(
                member,
                [pk_of(i, "Submission") for i in input.submission_ids],
                decision,
                input.feedback,
                input.idempotency_key,
            )
        except UseCaseError as error:
            return BulkReviewSubmissionsPayload(user_errors=user_errors(error))
        return BulkReviewSubmissionsPayload(
            results=[
                BulkReviewItem(
                    id=input.submission_ids[r.index],
                    ok=r.ok,
                    user_errors=user_errors(UseCaseError([r.error])) if r.error else [],
                )
                for r in results
            ]
        )
