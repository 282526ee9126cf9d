"""Running an account: its members and their API keys."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry

from gql_server import models
from gql_server.models import enums as domain
from gql_server.schema.enums import MemberRole, UserErrorCode
from gql_server.schema.errors import UserError
from gql_server.schema.relay import Connection, Node, to_global_id
from gql_server.schema.types import Account, Batch, Info, Member, Worker
from gql_server.schema.work import Submission, Template
from gql_server.services import sandbox

MemberConnection = Connection[Member]


@strawberry.type(
    description="A member's API key, without its secret: the key itself is shown only by "
    "the mutation that made it."
)
class ApiKey(Node):
    prefix: str = strawberry.field(description="The key's first characters, to tell keys apart.")
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = strawberry.field(
        description="Unusable from then on (a rotated key's grace period ends here)."
    )
    read_only: bool = strawberry.field(description="Reads with the member's role; no mutation.")
    revoked_at: datetime | None
    member_pk: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: Info) -> Member:
        return Member.from_model(await info.context.loaders.member.load(self.member_pk))

    @classmethod
    def from_model(cls, key: models.ApiKey) -> ApiKey:
        assert key.member_id is not None, "members' keys only"
        return cls(
            id=to_global_id("ApiKey", key.id),
            prefix=key.prefix,
            name=key.name,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
            read_only=key.read_only,
            revoked_at=key.revoked_at,
            member_pk=key.member_id,
        )


ApiKeyConnection = Connection[ApiKey]


@strawberry.input
class AddMemberInput:
    name: str
    email: str
    role: MemberRole


@strawberry.input
class ChangeMemberRoleInput:
    member_id: strawberry.ID
    role: MemberRole


@strawberry.input
class RemoveMemberInput:
    member_id: strawberry.ID


@strawberry.input
class CreateApiKeyInput:
    name: str = ""
    expires_at: datetime | None = strawberry.field(
        default=None, description="No expiry when absent."
    )
    read_only: bool = False


@strawberry.input
class RevokeApiKeyInput:
    key_id: strawberry.ID


@strawberry.input
class RotateApiKeyInput:
    key_id: strawberry.ID
    grace_period_seconds: int = strawberry.field(
        default=0,
        description="How long the old key keeps working, at most 7 days (604800); 0 ends it "
        "at once.",
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="The replacement's expiry; none when absent."
    )


@strawberry.input(description="Every field narrows.")
class ApiKeyFilter:
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="One member's keys (an owner sees every member's)."
    )


@strawberry.type
class AddMemberPayload:
    member: Member | None = None
    api_key: str | None = strawberry.field(
        default=None, description="The new member's first key: shown this once only."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberPayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyPayload:
    key: ApiKey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class IssuedApiKeyPayload:
    key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The key to send as 'Authorization: Bearer <key>': shown this once only.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


# --- workers, managed by the operator --------------------------------------------------------


@strawberry.type(description="A worker's API key, without its secret.")
class WorkerKey:
    id: strawberry.ID
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, key: models.ApiKey) -> WorkerKey:
        return cls(
            id=to_global_id("ApiKey", key.id),
            prefix=key.prefix,
            name=key.name,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


@strawberry.input
class RegisterWorkerInput:
    name: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, like 'DE'.")
    external_ref: str | None = strawberry.field(
        default=None,
        description="The worker's id in your application: registering it again returns the "
        "same worker.",
    )


@strawberry.input
class UpdateWorkerInput:
    worker_id: strawberry.ID
    name: str | None = None
    country: str | None = None


@strawberry.input
class IssueWorkerKeyInput:
    worker_id: strawberry.ID
    name: str = ""


@strawberry.input
class RevokeWorkerKeyInput:
    key_id: strawberry.ID


@strawberry.input(description="Every field narrows.")
class WorkerFilter:
    country: str | None = None
    task_id: strawberry.ID | None = strawberry.field(
        default=None, description="Those with a submission on this task."
    )
    skill_id: strawberry.ID | None = strawberry.field(
        default=None, description="Those with a value of this skill."
    )


@strawberry.type
class RegisterWorkerPayload:
    worker: Worker | None = None
    created: bool = strawberry.field(
        default=False, description="False when the external reference was registered before."
    )
    api_key: str | None = strawberry.field(
        default=None,
        description="The new worker's first key, shown this once only; null for a worker "
        "registered before (issue it another with issueWorkerKey).",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WorkerPayload:
    worker: Worker | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WorkerKeyPayload:
    key: WorkerKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key itself, shown this once only (when it was made)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


WorkerConnection = Connection[Worker]


# --- batches and templates ------------------------------------------------------------------

BatchConnection = Connection[Batch]
TemplateConnection = Connection[Template]


@strawberry.input
class CreateBatchInput:
    name: str


@strawberry.input
class UpdateBatchInput:
    batch_id: strawberry.ID
    name: str


@strawberry.input
class DeleteTemplateInput:
    template_id: strawberry.ID


@strawberry.type
class BatchPayload:
    batch: Batch | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteTemplatePayload:
    deleted_template_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


# --- the activity log ---------------------------------------------------------------------

AdminAction = strawberry.enum(
    domain.AdminAction, description="What a member changed in the account's administration."
)


@strawberry.type(description="A value an administrative change set or recorded.")
class ActivityDetail:
    name: str
    value: str = strawberry.field(description="As JSON.")


@strawberry.type(description="One administrative change: who did what to what, and when.")
class AdminActivity:
    action: AdminAction
    subject_type: str = strawberry.field(description="Member, ApiKey, WebhookEndpoint, ...")
    subject_id: strawberry.ID
    details: list[ActivityDetail]
    created_at: datetime
    actor_pk: strawberry.Private[int | None]

    @strawberry.field(description="Null if the member is gone.")
    async def actor(self, info: Info) -> Member | None:
        if self.actor_pk is None:
            return None
        return Member.from_model(await info.context.loaders.member.load(self.actor_pk))

    @classmethod
    def from_model(cls, entry: models.AdminActivity) -> AdminActivity:
        return cls(
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=to_global_id(entry.subject_type, entry.subject_id),
            details=[
                ActivityDetail(name=name, value=json.dumps(value))
                for name, value in sorted(entry.details.items())
            ],
            created_at=entry.created_at,
            actor_pk=entry.actor_id,
        )


AdminActivityConnection = Connection[AdminActivity]


# --- sandboxes -------------------------------------------------------------------------------

AnswerKind = strawberry.enum(
    sandbox.AnswerKind,
    description="What a simulated worker answers: GOOD; EMPTY (optional proofs blank, "
    "required ones refused by the task's validation); DUPLICATE (another simulated answer "
    "again); TOO_FAST (submitted the moment it started).",
)


@strawberry.input(description="How many simulated workers answer each way; 1 to 100 in all.")
class SimulateWorkersInput:
    task_id: strawberry.ID
    good: int = 0
    empty: int = 0
    duplicate: int = 0
    too_fast: int = 0


@strawberry.type(description="A simulated worker's answer the use cases refused.")
class SimulatedRefusal:
    kind: AnswerKind
    code: UserErrorCode
    message: str


@strawberry.type
class SimulateWorkersPayload:
    worker_count: int = 0
    submissions: list[Submission] = strawberry.field(default_factory=list)
    refusals: list[SimulatedRefusal] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateSandboxTwinInput:
    name: str | None = strawberry.field(
        default=None, description="The sandbox's name; this account's with ' (sandbox)' if absent."
    )


@strawberry.type
class CreateSandboxTwinPayload:
    account: Account | None = None
    api_key: str | None = strawberry.field(
        default=None, description="Your key to the sandbox (cwk_test_...), shown this once."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
