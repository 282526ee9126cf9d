"""Submissions, reviews and the worker's view of tasks."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_server import models
from gql_server.schema.enums import ActorKind, ReviewDecision, SubmissionState
from gql_server.schema.relay import Connection, Node, PageInfo, to_global_id
from gql_server.schema.types import Info, Money, ProofRequirement, Task, Worker


@strawberry.type(description="One piece of proof: the requirement's name and what the worker sent.")
class ProofValue:
    name: str
    value: str


def _proof(response: dict[str, str] | None) -> list[ProofValue] | None:
    if response is None:
        return None
    return [ProofValue(name=k, value=v) for k, v in response.items()]


@strawberry.type
class Review:
    decision: ReviewDecision
    feedback: str | None
    actor_kind: ActorKind
    created_at: datetime

    @classmethod
    def from_model(cls, review: models.Review) -> Review:
        return cls(
            decision=review.decision,
            feedback=review.feedback,
            actor_kind=review.actor_kind,
            created_at=review.created_at,
        )


def _submission_fields(
    submission: models.Submission, currency: models.enums.Currency
) -> dict[str, object]:
    return {
        "state": submission.state,
        "response": _proof(submission.response),
        "prior_responses": [_proof(r) or [] for r in submission.prior_responses],
        "feedback": submission.feedback,
        "reward": Money.of(submission.reward_minor, currency),
        "paid": Money.of(submission.paid_minor, currency),
        "revision_count": submission.revision_count,
        "started_at": submission.created_at,
        "deadline_at": submission.deadline_at,
        "submitted_at": submission.submitted_at,
        "reviewed_at": submission.reviewed_at,
        "auto_approve_at": submission.auto_approve_at,
        "version": submission.version,
        "pk": submission.id,
        "task_pk": submission.task_id,
        "worker_pk": submission.worker_id,
        "currency": currency,
    }


@strawberry.interface
class SubmissionFields(Node):
    state: SubmissionState
    response: list[ProofValue] | None = strawberry.field(description="The latest proof sent.")
    prior_responses: list[list[ProofValue]] = strawberry.field(
        description="Earlier proof, oldest first."
    )
    feedback: str | None = strawberry.field(
        description="The latest rejection or revision feedback."
    )
    reward: Money
    paid: Money = strawberry.field(description="Paid so far: reward, partial payment and bonuses.")
    revision_count: int
    started_at: datetime
    deadline_at: datetime = strawberry.field(description="A started submission expires after this.")
    submitted_at: datetime | None
    reviewed_at: datetime | None
    auto_approve_at: datetime | None
    version: int
    pk: strawberry.Private[int]
    task_pk: strawberry.Private[int]
    worker_pk: strawberry.Private[int]
    currency: strawberry.Private[models.enums.Currency]


@strawberry.type(description="A submission as the requester's team sees it.")
class Submission(SubmissionFields):
    @strawberry.field
    async def task(self, info: Info) -> Task:
        return Task.from_model(await info.context.loaders.task.load(self.task_pk), self.currency)

    @strawberry.field
    async def worker(self, info: Info) -> Worker:
        return Worker.from_model(await info.context.loaders.worker.load(self.worker_pk))

    @strawberry.field(description="Every review decision, oldest first.")
    async def reviews(self, info: Info) -> list[Review]:
        return [Review.from_model(r) for r in await info.context.loaders.reviews.load(self.pk)]

    @classmethod
    def from_model(
        cls, submission: models.Submission, currency: models.enums.Currency
    ) -> Submission:
        return cls(
            id=to_global_id("Submission", submission.id), **_submission_fields(submission, currency)
        )


@strawberry.type(description="A task as a worker sees it: what to do and what it pays.")
class TaskListing:
    id: strawberry.ID
    title: str
    instructions: str
    proof_requirements: list[ProofRequirement]
    category: str | None
    reward: Money
    time_limit_seconds: int
    expires_at: datetime | None
    max_submissions_per_worker: int

    @classmethod
    def from_model(cls, task: models.Task, currency: models.enums.Currency) -> TaskListing:
        return cls(
            id=to_global_id("Task", task.id),
            title=task.title,
            instructions=task.instructions,
            proof_requirements=[ProofRequirement.from_json(p) for p in task.proof_requirements],
            category=task.category,
            reward=Money.of(task.reward_minor, currency),
            time_limit_seconds=task.time_limit_seconds,
            expires_at=task.expires_at,
            max_submissions_per_worker=task.max_submissions_per_worker,
        )


@strawberry.type(description="A submission as its worker sees it.")
class MySubmission(SubmissionFields):
    @strawberry.field
    async def task(self, info: Info) -> TaskListing:
        return TaskListing.from_model(
            await info.context.loaders.task.load(self.task_pk), self.currency
        )

    @classmethod
    def from_model(
        cls, submission: models.Submission, currency: models.enums.Currency
    ) -> MySubmission:
        return cls(
            id=to_global_id("Submission", submission.id), **_submission_fields(submission, currency)
        )


@strawberry.type
class TaskListingEdge:
    cursor: str
    node: TaskListing


@strawberry.type(description="Tasks a worker may take; no total, since eligibility is per worker.")
class TaskListingConnection:
    edges: list[TaskListingEdge]
    page_info: PageInfo


@strawberry.type
class Template(Node):
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, template: models.Template) -> Template:
        return cls(
            id=to_global_id("Template", template.id),
            name=template.name,
            created_at=template.created_at,
        )


@strawberry.type
class TaskRating:
    clarity: int
    fairness: int
    comment: str


SubmissionConnection = Connection[Submission]
MySubmissionConnection = Connection[MySubmission]
