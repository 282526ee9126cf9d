"""Skills, the workers' values of them with their history, and restrictions of workers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import strawberry

from gql_server import clock, models
from gql_server.models import enums as domain
from gql_server.schema.enums import ActorKind
from gql_server.schema.errors import UserError
from gql_server.schema.relay import Connection, Node, to_global_id
from gql_server.schema.types import Info, Member, Project, Task, Worker
from gql_server.services.principals import MemberPrincipal

SkillScope = strawberry.enum(
    domain.SkillScope,
    description="How a worker's current value is computed: TASK, the value from the task "
    "the worker last completed; PROJECT, the value from the project's results.",
)
RestrictionKind = strawberry.enum(
    domain.RestrictionKind,
    description="SUSPENSION: in one task; BAN: from a project or all; MUTE: the worker's "
    "messages to the account are refused (account-wide; work is not).",
)
RestrictionScope = strawberry.enum(
    domain.RestrictionScope,
    description="Where a restriction keeps the worker out: one task, one project, or all the "
    "account's projects.",
)


async def _task(info: Info, pk: int | None) -> Task | None:
    if pk is None:
        return None
    task = await info.context.loaders.task.load(pk)
    return Task.from_model(task, (await info.context.account()).currency)


async def _project(info: Info, pk: int | None) -> Project | None:
    if pk is None:
        return None
    return Project.from_model(await info.context.loaders.project.load(pk))


async def _member(info: Info, pk: int | None) -> Member | None:
    if pk is None:
        return None
    return Member.from_model(await info.context.loaders.member.load(pk))


async def _worker(info: Info, pk: int) -> Worker:
    """The worker a restriction or a skill value names. An account may name any worker by
    id (a ban or a qualification before their first task), but a worker's profile is shown
    only to accounts they worked for, as node(id:) does: for the others the name and the
    country are empty."""
    worker = Worker.from_model(await info.context.loaders.worker.load(pk))
    principal = info.context.principal
    if isinstance(principal, MemberPrincipal):
        history = await info.context.loaders.worker_history.load((principal.account_id, pk))
        if history.submissions == 0:
            return replace(worker, name="", country="")
    return worker


@strawberry.type(description="A named 0-100 value per worker, owned by the account.")
class Skill(Node):
    name: str
    description: str
    scope: SkillScope
    created_at: datetime

    @classmethod
    def from_model(cls, skill: models.Skill) -> Skill:
        return cls(
            id=to_global_id("Skill", skill.id),
            name=skill.name,
            description=skill.description,
            scope=skill.scope,
            created_at=skill.created_at,
        )


async def _skill(info: Info, pk: int) -> Skill:
    return Skill.from_model(await info.context.loaders.skill.load(pk))


@strawberry.type(description="A worker's current value of a skill: the latest recorded.")
class WorkerSkillValue:
    value: int
    updated_at: datetime | None
    skill_pk: strawberry.Private[int]
    worker_pk: strawberry.Private[int]
    task_pk: strawberry.Private[int | None]
    project_pk: strawberry.Private[int | None]

    @strawberry.field
    async def skill(self, info: Info) -> Skill:
        return await _skill(info, self.skill_pk)

    @strawberry.field
    async def worker(self, info: Info) -> Worker:
        return await _worker(info, self.worker_pk)

    @strawberry.field(description="The task whose results produced the value, if any.")
    async def task(self, info: Info) -> Task | None:
        return await _task(info, self.task_pk)

    @strawberry.field(description="The project whose results produced the value, if any.")
    async def project(self, info: Info) -> Project | None:
        return await _project(info, self.project_pk)

    @classmethod
    def from_model(cls, row: models.WorkerSkill) -> WorkerSkillValue:
        return cls(
            value=row.value,
            updated_at=row.updated_at or row.created_at,
            skill_pk=row.skill_id,
            worker_pk=row.worker_id,
            task_pk=row.task_id,
            project_pk=row.project_id,
        )


@strawberry.type(description="One change of a worker's skill value (the history).")
class SkillValueChange:
    value: int
    actor_kind: ActorKind
    rule_firing_id: strawberry.ID | None = strawberry.field(
        description="The rule firing that set the value, when a rule did."
    )
    created_at: datetime
    skill_pk: strawberry.Private[int]
    task_pk: strawberry.Private[int | None]
    project_pk: strawberry.Private[int | None]
    member_pk: strawberry.Private[int | None]

    @strawberry.field
    async def skill(self, info: Info) -> Skill:
        return await _skill(info, self.skill_pk)

    @strawberry.field
    async def task(self, info: Info) -> Task | None:
        return await _task(info, self.task_pk)

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return await _project(info, self.project_pk)

    @strawberry.field(description="The member who set the value by hand.")
    async def member(self, info: Info) -> Member | None:
        return await _member(info, self.member_pk)

    @classmethod
    def from_model(cls, row: models.SkillValue) -> SkillValueChange:
        return cls(
            value=row.value,
            actor_kind=row.actor_kind,
            rule_firing_id=(
                to_global_id("RuleFiring", row.rule_firing_id) if row.rule_firing_id else None
            ),
            created_at=row.created_at,
            skill_pk=row.skill_id,
            task_pk=row.task_id,
            project_pk=row.project_id,
            member_pk=row.member_id,
        )


@strawberry.type(
    description="A ban or suspension of a worker. Only members see restrictions; the worker "
    "is refused with RESTRICTED and never sees the reason."
)
class Restriction(Node):
    kind: RestrictionKind
    scope: RestrictionScope
    reason: str = strawberry.field(description="Private to the requester.")
    starts_at: datetime
    ends_at: datetime | None = strawberry.field(description="null: for good.")
    lifted_at: datetime | None
    actor_kind: ActorKind = strawberry.field(description="Who imposed it: a member or a rule.")
    rule_id: strawberry.ID | None = strawberry.field(description="The rule that imposed it.")
    active: bool = strawberry.field(description="In effect now (started, not ended, not lifted).")
    created_at: datetime
    worker_pk: strawberry.Private[int]
    task_pk: strawberry.Private[int | None]
    project_pk: strawberry.Private[int | None]
    lifted_by_pk: strawberry.Private[int | None]
    created_by_pk: strawberry.Private[int | None]

    @strawberry.field
    async def worker(self, info: Info) -> Worker:
        return await _worker(info, self.worker_pk)

    @strawberry.field(description="The task of a TASK restriction.")
    async def task(self, info: Info) -> Task | None:
        return await _task(info, self.task_pk)

    @strawberry.field(description="The project of a PROJECT restriction.")
    async def project(self, info: Info) -> Project | None:
        return await _project(info, self.project_pk)

    @strawberry.field
    async def lifted_by(self, info: Info) -> Member | None:
        return await _member(info, self.lifted_by_pk)

    @strawberry.field(description="The member who imposed it by hand.")
    async def created_by(self, info: Info) -> Member | None:
        return await _member(info, self.created_by_pk)

    @classmethod
    def from_model(cls, row: models.Restriction) -> Restriction:
        now = clock.now()
        return cls(
            id=to_global_id("Restriction", row.id),
            kind=row.kind,
            scope=row.scope,
            reason=row.reason,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            lifted_at=row.lifted_at,
            actor_kind=row.actor_kind,
            rule_id=to_global_id("Rule", row.rule_id) if row.rule_id else None,
            active=(
                row.lifted_at is None
                and row.starts_at <= now
                and (row.ends_at is None or row.ends_at > now)
            ),
            created_at=row.created_at,
            worker_pk=row.worker_id,
            task_pk=row.task_id,
            project_pk=row.project_id,
            lifted_by_pk=row.lifted_by_id,
            created_by_pk=row.created_by_id,
        )


SkillConnection = Connection[Skill]
SkillValueChangeConnection = Connection[SkillValueChange]
RestrictionConnection = Connection[Restriction]


# --- inputs ------------------------------------------------------------------------------


@strawberry.input
class CreateSkillInput:
    name: str
    description: str = ""
    scope: SkillScope = domain.SkillScope.TASK


@strawberry.input(description="Rename or redescribe a skill; omitted fields stay as they are.")
class UpdateSkillInput:
    skill_id: strawberry.ID
    name: str | None = None
    description: str | None = None


@strawberry.input(description="Set a worker's value of a skill by hand.")
class SetWorkerSkillInput:
    skill_id: strawberry.ID
    worker_id: strawberry.ID
    value: int = strawberry.field(description="0 to 100.")


@strawberry.input(
    description="Suspend a worker in a task (kind SUSPENSION, scope TASK, taskId), or ban them "
    "from a project (kind BAN, scope PROJECT, projectId) or from all the account's projects "
    "(kind BAN, scope ACCOUNT), for `days` or for good."
)
class RestrictWorkerInput:
    worker_id: strawberry.ID
    kind: RestrictionKind
    scope: RestrictionScope
    task_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    days: int | None = strawberry.field(default=None, description="null: for good.")
    reason: str = strawberry.field(default="", description="Private to the requester.")


@strawberry.input
class LiftRestrictionInput:
    restriction_id: strawberry.ID


@strawberry.input(description="Every field narrows.")
class RestrictionFilter:
    worker_id: strawberry.ID | None = None
    task_id: strawberry.ID | None = strawberry.field(
        default=None, description="Those that apply to the task: its own, its project's, all."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None, description="Those of the project or its tasks, and account-wide ones."
    )
    active_only: bool = strawberry.field(default=False, description="Only those in effect now.")


# --- payloads ----------------------------------------------------------------------------


@strawberry.type
class SkillPayload:
    skill: Skill | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetWorkerSkillPayload:
    worker_skill: WorkerSkillValue | None = None
    changed: bool = strawberry.field(
        default=False, description="False when the value was already in effect (no history)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LiftRestrictionPayload:
    restriction: Restriction | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RestrictWorkerPayload:
    restriction: Restriction | None = None
    created: bool = strawberry.field(
        default=False,
        description="False when a restriction already in effect covers the request: that one "
        "is returned and nothing is written.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
