"""Input types of queries and mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_server.schema.enums import (
    AcceptanceMode,
    OrderDirection,
    ProofKind,
    SkillOperator,
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
