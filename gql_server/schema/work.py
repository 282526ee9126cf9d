"""Submissions with their reviews and audits, and the worker's view of tasks."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_server import clock, models
from gql_server.models.vocabulary import COMPLETED_STATES, is_held
from gql_server.schema.cost import DECISIONS_PER_SUBMISSION, ListSize
from gql_server.schema.enums import ActorKind, AuditOutcome, ReviewDecision, SubmissionState
from gql_server.schema.relay import Connection, Node, PageInfo, to_global_id
from gql_server.schema.types import Info, Member, Money, ProofRequirement, Task, Worker


@strawberry.type(description="One piece of proof: the requirement's name and what the worker sent.")
class ProofValue:
    name: str
    value: str


def proof_values(response: dict[str, str] | None) -> list[ProofValue] | None:
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
        "response": proof_values(submission.response),
        "prior_responses": [proof_values(r) or [] for r in submission.prior_responses],
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

    @strawberry.field(
        description="Every review decision, oldest first.",
        directives=[ListSize(assumed_size=DECISIONS_PER_SUBMISSION)],
    )
    async def reviews(self, info: Info) -> list[Review]:
        return [Review.from_model(r) for r in await info.context.loaders.reviews.load(self.pk)]

    completed_at: datetime | None = strawberry.field(
        description="When the work was approved (completed work is what audits look at)."
    )
    audit_status: AuditOutcome | None = strawberry.field(
        description="The latest audit's outcome; null before the first audit."
    )
    audit_count: int
    last_audited_at: datetime | None
    audit_comments: list[str] = strawberry.field(description="Every audit comment, in order.")

    @strawberry.field(
        description="Every audit, oldest first.",
        directives=[ListSize(assumed_size=DECISIONS_PER_SUBMISSION)],
    )
    async def audits(self, info: Info) -> list[Audit]:
        return [Audit.from_model(a) for a in await info.context.loaders.audits.load(self.pk)]

    @strawberry.field(description="The audit lock it is held under right now, if any.")
    async def audit_lock(self, info: Info) -> AuditLock | None:
        lock = await info.context.loaders.audit_lock.load(self.pk)
        if lock is None:
            return None
        return AuditLock.from_model(lock, info.context.member.member_id, clock.now())

    @classmethod
    def from_model(
        cls, submission: models.Submission, currency: models.enums.Currency
    ) -> Submission:
        return cls(
            id=to_global_id("Submission", submission.id),
            completed_at=(submission.reviewed_at if submission.state in COMPLETED_STATES else None),
            audit_status=submission.audit_status,
            audit_count=submission.audit_count,
            last_audited_at=submission.last_audited_at,
            audit_comments=list(submission.audit_comments),
            **_submission_fields(submission, currency),
        )


@strawberry.type(description="One QA decision on a completed submission.")
class Audit(Node):
    outcome: AuditOutcome
    comments: str
    corrected_response: list[ProofValue] | None = strawberry.field(
        description="The response a FIXED audit put in place."
    )
    created_at: datetime
    auditor_pk: strawberry.Private[int | None]
    submission_pk: strawberry.Private[int]

    @strawberry.field
    async def auditor(self, info: Info) -> Member | None:
        if self.auditor_pk is None:
            return None
        return Member.from_model(await info.context.loaders.member.load(self.auditor_pk))

    @strawberry.field
    async def submission(self, info: Info) -> Submission:
        found = await info.context.loaders.submission.load(self.submission_pk)
        return Submission.from_model(found, (await info.context.account()).currency)

    @classmethod
    def from_model(cls, audit: models.Audit) -> Audit:
        return cls(
            id=to_global_id("Audit", audit.id),
            outcome=audit.outcome,
            comments=audit.comments,
            corrected_response=proof_values(audit.corrected_response),
            created_at=audit.created_at,
            auditor_pk=audit.auditor_id,
            submission_pk=audit.submission_id,
        )


@strawberry.type(
    description="The audit lease of a submission. Send `fencingToken` with renew, release "
    "and submit: once the lease lapses and someone else takes it, the old token is refused."
)
class AuditLock:
    fencing_token: int
    acquired_at: datetime | None
    expires_at: datetime | None
    released_at: datetime | None
    held: bool = strawberry.field(description="Held right now (not released, not expired).")
    held_by_me: bool
    holder_pk: strawberry.Private[int | None]
    submission_pk: strawberry.Private[int]

    @strawberry.field
    async def holder(self, info: Info) -> Member | None:
        if self.holder_pk is None or not self.held:
            return None
        return Member.from_model(await info.context.loaders.member.load(self.holder_pk))

    @strawberry.field
    async def submission(self, info: Info) -> Submission:
        found = await info.context.loaders.submission.load(self.submission_pk)
        return Submission.from_model(found, (await info.context.account()).currency)

    @classmethod
    def from_model(cls, lock: models.AuditLock, member_id: int, now: datetime) -> AuditLock:
        held = is_held(lock, now)
        return cls(
            fencing_token=lock.fencing_token,
            acquired_at=lock.acquired_at,
            expires_at=lock.expires_at,
            released_at=lock.released_at,
            held=held,
            held_by_me=held and lock.holder_id == member_id,
            holder_pk=lock.holder_id,
            submission_pk=lock.submission_id,
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
