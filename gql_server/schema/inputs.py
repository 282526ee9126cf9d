"""Input types of queries and mutations.

The task configuration is declared in the domain (`services/tasks.py`, `TaskDraft`); its
inputs carry the same fields under the same names and build the domain's values with
`to_draft` / `to_changes` (`schema/mapping.py` copies what needs no conversion).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

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
from gql_server.schema.mapping import copy_fields, nullable, to_filter
from gql_server.schema.scalars import Decimal
from gql_server.services import tasks
from gql_server.services.global_ids import pk_of, require_pk


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

    def to_draft(self) -> tasks.ProofRequirementDraft:
        return copy_fields(tasks.ProofRequirementDraft, self)


def _proofs(given: list[ProofRequirementInput] | None) -> list[tasks.ProofRequirementDraft]:
    return [proof.to_draft() for proof in given or []]


@strawberry.input
class SkillFilterInput:
    skill_id: strawberry.ID
    operator: SkillOperator
    value: int | None = strawberry.field(default=None, description="0-100; omitted for ABSENT.")

    def to_draft(self) -> tasks.SkillFilterDraft:
        # An id that does not decode stays None: the use case reports the skill not found.
        return copy_fields(
            tasks.SkillFilterDraft,
            self,
            skill_id=pk_of(self.skill_id, "Skill"),
            operator=self.operator.value,
        )


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

    def to_draft(self) -> tasks.TargetingDraft:
        return copy_fields(
            tasks.TargetingDraft,
            self,
            skill_filters=[skill_filter.to_draft() for skill_filter in self.skill_filters],
            invited_worker_ids=[pk_of(worker, "Worker") for worker in self.invited_worker_ids],
        )


def _targeting(given: TargetingInput | None) -> tasks.TargetingDraft:
    """No targeting given: anyone (who is not restricted) may work."""
    return given.to_draft() if given is not None else tasks.TargetingDraft()


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

    def to_draft(self) -> tasks.TaskDraft:
        return copy_fields(
            tasks.TaskDraft,
            self,
            proof_requirements=_proofs(self.proof_requirements),
            targeting=_targeting(self.targeting),
            batch_id=require_pk(self.batch_id, "Batch", "batch_id") if self.batch_id else None,
        )


@strawberry.input
class TaskFilter:
    statuses: list[TaskStatus] | None = None
    project_id: strawberry.ID | None = None
    batch_id: strawberry.ID | None = None
    variant_group: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the title, any case.")

    def to_domain(self) -> tasks.TaskFilter:
        return to_filter(tasks.TaskFilter, self)


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

    def to_changes(self) -> dict[str, Any]:
        """The draft's fields that were given, as draft values. Null clears a field that
        may be empty (lists and targeting become empty) and keeps any other."""
        given = {
            f.name: getattr(self, f.name)
            for f in fields(tasks.TaskDraft)
            if getattr(self, f.name) is not strawberry.UNSET
        }
        clearable = nullable(tasks.TaskDraft)
        changes = {
            name: value for name, value in given.items() if value is not None or name in clearable
        }
        if "proof_requirements" in given:
            changes["proof_requirements"] = _proofs(given["proof_requirements"])
        if "targeting" in given:
            changes["targeting"] = _targeting(given["targeting"])
        if "batch_id" in given:
            changes["batch_id"] = pk_of(given["batch_id"], "Batch") if given["batch_id"] else None
        return changes


def task_changes(given: TaskChangesInput | None) -> dict[str, Any]:
    return given.to_changes() if given is not None else {}


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
    note: str | None = strawberry.field(
        default=None,
        description="A note for the worker (thanks), delivered to its thread of the "
        "submission; 1 to 5000 characters.",
    )


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
