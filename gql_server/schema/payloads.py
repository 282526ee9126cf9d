"""Mutation payloads: the changed objects and the expected failures."""

from __future__ import annotations

import strawberry

from gql_server.schema.errors import UserError
from gql_server.schema.types import Account, Project, Task
from gql_server.schema.work import MySubmission, Submission, TaskRating, Template


@strawberry.type
class CreateProjectPayload:
    project: Project | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateTaskPayload:
    task: Task | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TaskPayload:
    """The payload of the mutations that change one task."""

    task: Task | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FundAccountPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SaveTaskAsTemplatePayload:
    template: Template | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SubmissionPayload:
    """The payload of the review mutations."""

    submission: Submission | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MySubmissionPayload:
    """The payload of the worker's mutations on a submission."""

    submission: MySubmission | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RateTaskPayload:
    rating: TaskRating | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BulkReviewItem:
    id: strawberry.ID = strawberry.field(description="The id as sent.")
    ok: bool
    user_errors: list[UserError]


@strawberry.type
class BulkReviewSubmissionsPayload:
    results: list[BulkReviewItem] = strawberry.field(
        default_factory=list, description="One per id sent, in input order."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
