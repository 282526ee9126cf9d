"""Skills and restrictions: the account's skills, workers' values, bans and suspensions.

Everything here is for members: a worker never sees restrictions or their reasons (a
restricted worker is refused with RESTRICTED, without a reason, where they act).
"""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server import models
from gql_server.resolvers.common import Info, filter_pk, mutate, page, query
from gql_server.resolvers.permissions import CanManage, IsMember
from gql_server.schema.quality import (
    CreateSkillInput,
    LiftRestrictionInput,
    LiftRestrictionPayload,
    Restriction,
    RestrictionConnection,
    RestrictionFilter,
    RestrictWorkerInput,
    RestrictWorkerPayload,
    SetWorkerSkillInput,
    SetWorkerSkillPayload,
    Skill,
    SkillConnection,
    SkillPayload,
    SkillValueChange,
    SkillValueChangeConnection,
    UpdateSkillInput,
    WorkerSkillValue,
)
from gql_server.services import restrictions, skills
from gql_server.services.global_ids import pk_of, require_pk


def _optional_pk(global_id: strawberry.ID | None, type_name: str, name: str) -> int | None:
    """An optional input id: None when absent; malformed or of another type: NOT_FOUND."""
    if global_id is None:
        return None
    return require_pk(global_id, type_name, name)


async def _skill(skill: models.Skill) -> dict[str, Any]:
    return {"skill": Skill.from_model(skill)}


@strawberry.type
class QualityQueries:
    @strawberry.field(permission_classes=[IsMember], description="The account's skills.")
    async def skills(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SkillConnection:
        result = await query(
            lambda: skills.list_skills(
                info.context.member.account_id, page(first, after, last, before)
            )
        )
        return SkillConnection.from_page(result, Skill.from_model)

    @strawberry.field(permission_classes=[IsMember])
    async def skill(self, info: Info, id: strawberry.ID) -> Skill | None:
        pk = pk_of(id, "Skill")
        found = (
            await models.Skill.get_or_none(id=pk, account_id=info.context.member.account_id)
            if pk is not None
            else None
        )
        return Skill.from_model(found) if found else None

    @strawberry.field(
        permission_classes=[IsMember],
        description="A worker's current values of the account's skills, by skill name.",
    )
    async def worker_skills(self, info: Info, worker_id: strawberry.ID) -> list[WorkerSkillValue]:
        rows = await skills.worker_skills(
            info.context.member.account_id, pk_of(worker_id, "Worker")
        )
        return [WorkerSkillValue.from_model(row) for row in rows]

    @strawberry.field(
        permission_classes=[IsMember],
        description="The changes of a worker's values of the account's skills (or of one), "
        "newest first.",
    )
    async def skill_history(
        self,
        info: Info,
        worker_id: strawberry.ID,
        skill_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SkillValueChangeConnection:
        async def action() -> Any:
            return await skills.skill_history(
                info.context.member.account_id,
                pk_of(worker_id, "Worker"),
                filter_pk(skill_id, "Skill", "skill_id"),
                page(first, after, last, before),
            )

        result = await query(action)
        return SkillValueChangeConnection.from_page(result, SkillValueChange.from_model)

    @strawberry.field(
        permission_classes=[IsMember],
        description="The account's bans and suspensions, newest first, with their private reasons.",
    )
    async def restrictions(
        self,
        info: Info,
        filter: RestrictionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RestrictionConnection:
        given = filter or RestrictionFilter()

        async def action() -> Any:
            wanted = restrictions.RestrictionFilter(
                worker_id=filter_pk(given.worker_id, "Worker", "worker_id"),
                task_id=filter_pk(given.task_id, "Task", "task_id"),
                project_id=filter_pk(given.project_id, "Project", "project_id"),
                active_only=given.active_only,
            )
            return await restrictions.list_restrictions(
                info.context.member.account_id, wanted, page(first, after, last, before)
            )

        result = await query(action)
        return RestrictionConnection.from_page(result, Restriction.from_model)

    @strawberry.field(permission_classes=[IsMember])
    async def restriction(self, info: Info, id: strawberry.ID) -> Restriction | None:
        pk = pk_of(id, "Restriction")
        found = (
            await models.Restriction.get_or_none(id=pk, account_id=info.context.member.account_id)
            if pk is not None
            else None
        )
        return Restriction.from_model(found) if found else None


@strawberry.type
class QualityMutations:
    @strawberry.mutation(
        permission_classes=[CanManage],
        description="A new skill; its name is unique in the account (else DUPLICATE).",
    )
    async def create_skill(self, info: Info, input: CreateSkillInput) -> SkillPayload:
        return await mutate(
            SkillPayload,
            lambda: skills.create_skill(
                info.context.member, input.name, input.description, input.scope
            ),
            _skill,
        )

    @strawberry.mutation(permission_classes=[CanManage])
    async def update_skill(self, info: Info, input: UpdateSkillInput) -> SkillPayload:
        return await mutate(
            SkillPayload,
            lambda: skills.update_skill(
                info.context.member,
                pk_of(input.skill_id, "Skill"),
                input.name,
                input.description,
            ),
            _skill,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Set a worker's value of a skill by hand (kept in the history); setting "
        "the value already in effect changes nothing.",
    )
    async def set_worker_skill(
        self, info: Info, input: SetWorkerSkillInput
    ) -> SetWorkerSkillPayload:
        async def present(result: tuple[models.WorkerSkill, bool]) -> dict[str, Any]:
            row, changed = result
            return {"worker_skill": WorkerSkillValue.from_model(row), "changed": changed}

        return await mutate(
            SetWorkerSkillPayload,
            lambda: skills.set_worker_skill(
                info.context.member,
                pk_of(input.skill_id, "Skill"),
                pk_of(input.worker_id, "Worker"),
                input.value,
            ),
            present,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Suspend a worker in a task, or ban them from a project or from all the "
        "account's projects, for some days or for good, with a reason only members see.",
    )
    async def restrict_worker(
        self, info: Info, input: RestrictWorkerInput
    ) -> RestrictWorkerPayload:
        async def action() -> tuple[models.Restriction, bool]:
            return await restrictions.restrict_worker(
                info.context.member,
                worker_id=pk_of(input.worker_id, "Worker"),
                kind=input.kind,
                scope=input.scope,
                task_id=_optional_pk(input.task_id, "Task", "taskId"),
                project_id=_optional_pk(input.project_id, "Project", "projectId"),
                days=input.days,
                reason=input.reason,
            )

        async def present(result: tuple[models.Restriction, bool]) -> dict[str, Any]:
            restriction, created = result
            return {"restriction": Restriction.from_model(restriction), "created": created}

        return await mutate(RestrictWorkerPayload, action, present)

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="End a ban or suspension now. INVALID_STATE if it has ended or was lifted.",
    )
    async def lift_restriction(
        self, info: Info, input: LiftRestrictionInput
    ) -> LiftRestrictionPayload:
        async def present(restriction: models.Restriction) -> dict[str, Any]:
            return {"restriction": Restriction.from_model(restriction)}

        return await mutate(
            LiftRestrictionPayload,
            lambda: restrictions.lift(
                info.context.member, pk_of(input.restriction_id, "Restriction")
            ),
            present,
        )
