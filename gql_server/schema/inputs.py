"""Input types of queries and mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_server.schema.enums import (
    AcceptanceMode,
    BulkDecision,
    DisputeResolution,
    OrderDirection,
    ProofKind,
    SkillOperator,
    SubmissionState,
    TaskOrderField,
    TaskStatus,
)
from gql_server.schema.scalars import Decimal


@strawberry.input
class CreateProjectInput:
    name: str
    description: str = ""


@strawberry.input
class ProofRequirementInput:
    name: str
    kind: ProofKind
    required: bool = True
    description: str = ""


@strawberry.input
class SkillFilterInput:
    skill_id: strawberry.ID
    operator: SkillOperator
    value: int | None = strawberry.field(default=None, description="0-100; omitted for ABSENT.")


@strawberry.input
class TargetingInput:
    countries_allowed: list[str] = strawberry.field(default_factory=list)
    countries_denied: list[str] = strawberry.field(default_factory=list)
    min_approval_rate: float | None = strawberry.field(
        default=None, description="Percentage 0-100."
    )
    min_reviewed_count: int | None = None
    skill_filters: list[SkillFilterInput] = strawberry.field(default_factory=list)
    invited_worker_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="If set, only these workers may see and start the task."
    )
    previous_performers_min_approval_rate: float | None = None


@strawberry.input(description="A task configuration. Amounts are in the account's currency.")
class CreateTaskInput:
    project_id: strawberry.ID
    title: str
    instructions: str
    reward: Decimal
    budget: Decimal
    time_limit_seconds: int = 3600
    proof_requirements: list[ProofRequirementInput] = strawberry.field(default_factory=list)
    category: str | None = None
    max_submissions: int | None = None
    max_submissions_per_worker: int = 1
    daily_submission_limit: int | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    acceptance_mode: AcceptanceMode = AcceptanceMode.MANUAL
    auto_approval_delay_seconds: int = 0
    targeting: TargetingInput | None = None
    batch_id: strawberry.ID | None = None
    variant_group: str | None = None
    callback_url: str | None = None
    reopen_rejected_slots: bool = False
    reopen_banned_worker_slots: bool = False


@strawberry.input
class TaskFilter:
    statuses: list[TaskStatus] | None = None
    project_id: strawberry.ID | None = None
    batch_id: strawberry.ID | None = None
    variant_group: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the title, any case.")


@strawberry.input
class TaskOrder:
    field: TaskOrderField = TaskOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@strawberry.input(description="Fields to change; omitted fields keep their value.")
class TaskChangesInput:
    title: str | None = strawberry.UNSET
    instructions: str | None = strawberry.UNSET
    reward: Decimal | None = strawberry.UNSET
    budget: Decimal | None = strawberry.UNSET
    time_limit_seconds: int | None = strawberry.UNSET
    proof_requirements: list[ProofRequirementInput] | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    max_submissions: int | None = strawberry.UNSET
    max_submissions_per_worker: int | None = strawberry.UNSET
    daily_submission_limit: int | None = strawberry.UNSET
    starts_at: datetime | None = strawberry.UNSET
    expires_at: datetime | None = strawberry.UNSET
    acceptance_mode: AcceptanceMode | None = strawberry.UNSET
    auto_approval_delay_seconds: int | None = strawberry.UNSET
    targeting: TargetingInput | None = strawberry.UNSET
    batch_id: strawberry.ID | None = strawberry.UNSET
    variant_group: str | None = strawberry.UNSET
    callback_url: str | None = strawberry.UNSET
    reopen_rejected_slots: bool | None = strawberry.UNSET
    reopen_banned_worker_slots: bool | None = strawberry.UNSET


@strawberry.input
class UpdateTaskInput:
    task_id: strawberry.ID
    changes: TaskChangesInput


@strawberry.input
class TaskIdInput:
    task_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ChangeTaskBudgetInput:
    task_id: strawberry.ID
    budget: Decimal = strawberry.field(description="The new total budget of the task.")
    idempotency_key: str | None = None


@strawberry.input
class FundAccountInput:
    amount: Decimal
    idempotency_key: str | None = None


@strawberry.input
class SaveTaskAsTemplateInput:
    task_id: strawberry.ID
    name: str


@strawberry.input
class CreateTaskFromTemplateInput:
    template_id: strawberry.ID
    project_id: strawberry.ID
    changes: TaskChangesInput | None = None


@strawberry.input
class DuplicateTaskInput:
    task_id: strawberry.ID
    changes: TaskChangesInput | None = None


@strawberry.input
class StartSubmissionInput:
    task_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ProofValueInput:
    name: str
    value: str


@strawberry.input
class SubmitSubmissionInput:
    submission_id: strawberry.ID
    response: list[ProofValueInput]


@strawberry.input
class DisputeRejectionInput:
    submission_id: strawberry.ID
    reason: str


@strawberry.input
class RateTaskInput:
    task_id: strawberry.ID
    clarity: int = strawberry.field(description="1-5")
    fairness: int = strawberry.field(description="1-5")
    comment: str = ""


@strawberry.input
class ApproveSubmissionInput:
    submission_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class RejectSubmissionInput:
    submission_id: strawberry.ID
    feedback: str
    idempotency_key: str | None = None


@strawberry.input
class RequestRevisionInput:
    submission_id: strawberry.ID
    feedback: str


@strawberry.input
class PayBonusInput:
    submission_id: strawberry.ID
    amount: Decimal
    idempotency_key: str | None = None


@strawberry.input
class BulkReviewSubmissionsInput:
    submission_ids: list[strawberry.ID] = strawberry.field(description="1 to 10000 ids.")
    decision: BulkDecision
    feedback: str | None = strawberry.field(default=None, description="Required to reject.")
    idempotency_key: str | None = None


@strawberry.input
class ResolveDisputeInput:
    submission_id: strawberry.ID
    resolution: DisputeResolution
    amount: Decimal | None = strawberry.field(default=None, description="For PARTIAL_PAYMENT only.")
    note: str = ""
    idempotency_key: str | None = None


@strawberry.input
class ReviewQueueFilter:
    task_id: strawberry.ID | None = None
    worker_id: strawberry.ID | None = None
    states: list[SubmissionState] | None = strawberry.field(
        default=None, description="Default: SUBMITTED (waiting for review)."
    )
    submitted_after: datetime | None = None
    submitted_before: datetime | None = None
