"""Running an account: members (an owner manages, every member reads), API keys (a member
manages its own, an owner every member's), and workers (the operator registers them and
manages their keys; members see those who did their account's work)."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server import models
from gql_server.resolvers.common import Info, filter_pk, mutate, page, query
from gql_server.resolvers.nodes import fetches
from gql_server.resolvers.permissions import CanManage, IsMember, IsOperator, IsOwner
from gql_server.schema.administration import (
    AddMemberInput,
    AddMemberPayload,
    AdminAction,
    AdminActivity,
    AdminActivityConnection,
    ApiKey,
    ApiKeyConnection,
    ApiKeyFilter,
    ApiKeyPayload,
    ChangeMemberRoleInput,
    CreateApiKeyInput,
    CreateSandboxTwinInput,
    CreateSandboxTwinPayload,
    IssuedApiKeyPayload,
    IssueWorkerKeyInput,
    MemberConnection,
    MemberPayload,
    RegisterWorkerInput,
    RegisterWorkerPayload,
    RemoveMemberInput,
    RevokeApiKeyInput,
    RevokeWorkerKeyInput,
    RotateApiKeyInput,
    SimulatedRefusal,
    SimulateWorkersInput,
    SimulateWorkersPayload,
    UpdateWorkerInput,
    WorkerConnection,
    WorkerFilter,
    WorkerKey,
    WorkerKeyPayload,
    WorkerPayload,
)
from gql_server.schema.enums import MemberRole
from gql_server.schema.types import Account, Member, Worker
from gql_server.schema.work import Submission
from gql_server.services import activity, api_keys, members, sandbox, workers
from gql_server.services.global_ids import pk_of
from gql_server.services.principals import MemberPrincipal, Principal


@fetches(ApiKey)
async def _api_key(principal: Principal, info: Info, pk: int) -> ApiKey | None:
    if not isinstance(principal, MemberPrincipal):
        return None
    key = await api_keys.managed_key(principal, pk)
    return ApiKey.from_model(key) if key is not None else None


async def _member(member: models.Member) -> dict[str, Any]:
    return {"member": Member.from_model(member)}


async def _issued(issued: api_keys.IssuedKey) -> dict[str, Any]:
    return {"key": ApiKey.from_model(issued.key), "secret": issued.plain}


@strawberry.type
class AdministrationQueries:
    @strawberry.field(
        permission_classes=[IsMember],
        description="The account's members (those removed are not listed), oldest first.",
    )
    async def members(
        self,
        info: Info,
        role: MemberRole | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MemberConnection:
        result = await query(
            lambda: members.list_members(
                info.context.member, page(first, after, last, before), role
            )
        )
        return MemberConnection.from_page(result, Member.from_model)

    @strawberry.field(
        permission_classes=[IsMember],
        description="Your API keys, newest first; an owner's list holds every member's.",
    )
    async def api_keys(
        self,
        info: Info,
        filter: ApiKeyFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ApiKeyConnection:
        given = filter or ApiKeyFilter()

        async def action() -> Any:
            return await api_keys.list_api_keys(
                info.context.member,
                page(first, after, last, before),
                filter_pk(given.member_id, "Member", "member_id"),
            )

        return ApiKeyConnection.from_page(await query(action), ApiKey.from_model)

    @strawberry.field(
        permission_classes=[IsMember],
        description="The workers who did the account's work (a submission on one of its "
        "tasks), first registered first.",
    )
    async def workers(
        self,
        info: Info,
        filter: WorkerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WorkerConnection:
        given = filter or WorkerFilter()

        async def action() -> Any:
            wanted = workers.WorkerFilter(
                country=given.country,
                task_id=filter_pk(given.task_id, "Task", "task_id"),
                skill_id=filter_pk(given.skill_id, "Skill", "skill_id"),
            )
            return await workers.account_workers(
                info.context.member.account_id, wanted, page(first, after, last, before)
            )

        return WorkerConnection.from_page(await query(action), Worker.from_model)

    @strawberry.field(
        permission_classes=[IsOwner],
        description="Who added, removed or changed a member, a key or an endpoint, or lifted "
        "a restriction by hand, newest first (owners only).",
    )
    async def activity_log(
        self,
        info: Info,
        action: AdminAction | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> AdminActivityConnection:
        result = await query(
            lambda: activity.list_activity(
                info.context.member.account_id, page(first, after, last, before), action
            )
        )
        return AdminActivityConnection.from_page(result, AdminActivity.from_model)


@strawberry.type
class AdministrationMutations:
    @strawberry.mutation(
        permission_classes=[IsOwner],
        description="Add a member with a role; its first API key is in the payload, once. "
        "DUPLICATE if a member has the email; a removed member's email brings it back.",
    )
    async def add_member(self, info: Info, input: AddMemberInput) -> AddMemberPayload:
        async def present(added: members.AddedMember) -> dict[str, Any]:
            return {"member": Member.from_model(added.member), "api_key": added.api_key}

        return await mutate(
            AddMemberPayload,
            lambda: members.add_member(info.context.member, input.name, input.email, input.role),
            present,
        )

    @strawberry.mutation(
        permission_classes=[IsOwner],
        description="Give a member another role. INVALID_STATE for the last owner's demotion.",
    )
    async def change_member_role(self, info: Info, input: ChangeMemberRoleInput) -> MemberPayload:
        return await mutate(
            MemberPayload,
            lambda: members.change_member_role(
                info.context.member, pk_of(input.member_id, "Member"), input.role
            ),
            _member,
        )

    @strawberry.mutation(
        permission_classes=[IsOwner],
        description="Remove a member: every key it has stops working at once, and its open "
        "subscriptions end. INVALID_STATE for the last owner.",
    )
    async def remove_member(self, info: Info, input: RemoveMemberInput) -> MemberPayload:
        return await mutate(
            MemberPayload,
            lambda: members.remove_member(info.context.member, pk_of(input.member_id, "Member")),
            _member,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="A new API key of yours; its secret is in the payload, once.",
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> IssuedApiKeyPayload:
        return await mutate(
            IssuedApiKeyPayload,
            lambda: api_keys.create_api_key(
                info.context.member, input.name, input.expires_at, input.read_only
            ),
            _issued,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="End a key now: its next request fails on every server process, and its "
        "open subscriptions end.",
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> ApiKeyPayload:
        async def present(key: models.ApiKey) -> dict[str, Any]:
            return {"key": ApiKey.from_model(key)}

        return await mutate(
            ApiKeyPayload,
            lambda: api_keys.revoke_api_key(info.context.member, pk_of(input.key_id, "ApiKey")),
            present,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="A replacement for a key (same name and read-only setting); the old key "
        "keeps working for the grace period, then ends.",
    )
    async def rotate_api_key(self, info: Info, input: RotateApiKeyInput) -> IssuedApiKeyPayload:
        return await mutate(
            IssuedApiKeyPayload,
            lambda: api_keys.rotate_api_key(
                info.context.member,
                pk_of(input.key_id, "ApiKey"),
                input.grace_period_seconds,
                input.expires_at,
            ),
            _issued,
        )

    @strawberry.mutation(
        permission_classes=[IsOperator],
        description="Register a worker (operator key only) with a first key; registering an "
        "external reference again returns the same worker.",
    )
    async def register_worker(
        self, info: Info, input: RegisterWorkerInput
    ) -> RegisterWorkerPayload:
        async def present(registered: workers.RegisteredWorker) -> dict[str, Any]:
            return {
                "worker": Worker.from_model(registered.worker),
                "created": registered.created,
                "api_key": registered.api_key,
            }

        return await mutate(
            RegisterWorkerPayload,
            lambda: workers.register_worker(input.name, input.country, input.external_ref),
            present,
        )

    @strawberry.mutation(
        permission_classes=[IsOperator], description="Change a worker's profile (operator key)."
    )
    async def update_worker(self, info: Info, input: UpdateWorkerInput) -> WorkerPayload:
        async def present(worker: models.Worker) -> dict[str, Any]:
            return {"worker": Worker.from_model(worker)}

        return await mutate(
            WorkerPayload,
            lambda: workers.update_worker(
                pk_of(input.worker_id, "Worker"), input.name, input.country
            ),
            present,
        )

    @strawberry.mutation(
        permission_classes=[IsOperator],
        description="Another key for a worker (operator key); its secret is in the payload, once.",
    )
    async def issue_worker_key(self, info: Info, input: IssueWorkerKeyInput) -> WorkerKeyPayload:
        async def present(issued: workers.IssuedWorkerKey) -> dict[str, Any]:
            return {"key": WorkerKey.from_model(issued.key), "secret": issued.plain}

        return await mutate(
            WorkerKeyPayload,
            lambda: workers.issue_worker_key(pk_of(input.worker_id, "Worker"), input.name),
            present,
        )

    @strawberry.mutation(
        permission_classes=[IsOperator],
        description="End a worker's key now (operator key): its next request fails.",
    )
    async def revoke_worker_key(self, info: Info, input: RevokeWorkerKeyInput) -> WorkerKeyPayload:
        async def present(key: models.ApiKey) -> dict[str, Any]:
            return {"key": WorkerKey.from_model(key)}

        return await mutate(
            WorkerKeyPayload,
            lambda: workers.revoke_worker_key(pk_of(input.key_id, "ApiKey")),
            present,
        )

    @strawberry.mutation(
        permission_classes=[IsOwner],
        description="A sandbox twin of this account (same name, currency, time zone; you as "
        "its owner), with your key to it. DUPLICATE if it has one.",
    )
    async def create_sandbox_twin(
        self, info: Info, input: CreateSandboxTwinInput
    ) -> CreateSandboxTwinPayload:
        async def present(twin: sandbox.SandboxTwin) -> dict[str, Any]:
            return {"account": Account.from_model(twin.account), "api_key": twin.owner_api_key}

        return await mutate(
            CreateSandboxTwinPayload,
            lambda: sandbox.create_twin(info.context.member, input.name),
            present,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Sandbox only: new simulated workers start and submit on the task through "
        "the same use cases as real workers (limits, rules, callbacks and streams act).",
    )
    async def simulate_workers(
        self, info: Info, input: SimulateWorkersInput
    ) -> SimulateWorkersPayload:
        async def present(result: sandbox.Simulation) -> dict[str, Any]:
            currency = (await info.context.account()).currency
            return {
                "worker_count": len(result.workers),
                "submissions": [Submission.from_model(s, currency) for s in result.submitted],
                "refusals": [
                    SimulatedRefusal(kind=r.kind, code=r.code, message=r.message)
                    for r in result.refused
                ],
            }

        mix = sandbox.Mix(input.good, input.empty, input.duplicate, input.too_fast)
        return await mutate(
            SimulateWorkersPayload,
            lambda: sandbox.simulate_workers(
                info.context.member, pk_of(input.task_id, "Task"), mix
            ),
            present,
        )
