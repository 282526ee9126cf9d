"""The domain's enumerations, exposed to GraphQL under the same names and values."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from gql_server.models import enums as domain
from gql_server.services.errors import ErrorCode

Currency = strawberry.enum(domain.Currency, description="ISO 4217 currency code.")
MemberRole = strawberry.enum(
    domain.MemberRole,
    description="OWNER: everything; MANAGER: post and review; AUDITOR: audit; VIEWER: read.",
)
TaskStatus = strawberry.enum(domain.TaskStatus)
CloseReason = strawberry.enum(domain.CloseReason)
AcceptanceMode = strawberry.enum(domain.AcceptanceMode)
ProofKind = strawberry.enum(domain.ProofKind)
AuditOutcome = strawberry.enum(
    domain.AuditOutcome,
    description="ACCEPTED: right as it is; FIXED: corrected by the auditor; REJECTED: wrong.",
)
CallbackStatus = strawberry.enum(
    domain.OutboxStatus,
    name="CallbackStatus",
    description="PENDING: being sent or retried; DELIVERED; FAILED: retries ran out after a "
    "day; DISABLED: the callback URL is disabled.",
)
UserErrorCode = strawberry.enum(
    ErrorCode, name="UserErrorCode", description="Why a mutation changed nothing."
)


@strawberry.enum(description="How a skill filter compares a worker's skill value.")
class SkillOperator(StrEnum):
    GTE = "GTE"
    LT = "LT"
    ABSENT = "ABSENT"


@strawberry.enum
class TaskOrderField(StrEnum):
    CREATED_AT = "CREATED_AT"
    TITLE = "TITLE"
    REWARD = "REWARD"


@strawberry.enum
class OrderDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


SubmissionState = strawberry.enum(domain.SubmissionState)
DisputeStatus = strawberry.enum(domain.DisputeStatus)
ReviewDecision = strawberry.enum(domain.ReviewDecision)
ActorKind = strawberry.enum(domain.ActorKind, description="Who made a change.")


@strawberry.enum(description="A bulk decision.")
class BulkDecision(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@strawberry.enum(description="How a dispute of a rejection is resolved.")
class DisputeResolution(StrEnum):
    UPHOLD = "UPHOLD"
    OVERTURN = "OVERTURN"
    PARTIAL_PAYMENT = "PARTIAL_PAYMENT"
