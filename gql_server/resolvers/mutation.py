"""Root mutations: each takes one `input` and returns a payload with `userErrors`."""

from __future__ import annotations

import strawberry

from gql_server.resolvers.context import Context
from gql_server.resolvers.permissions import CanManage
from gql_server.schema.errors import user_errors
from gql_server.schema.inputs import (
    CreateProjectInput,
    CreateTaskInput,
    ProofRequirementInput,
    TargetingInput,
)
from gql_server.schema.payloads import CreateProjectPayload, CreateTaskPayload
from gql_server.schema.relay import pk_of, require_pk
from gql_server.schema.types import Project, Task
from gql_server.services import projects as project_service
from gql_server.services import tasks as task_service
from gql_server.services.errors import UseCaseError

Info = strawberry.Info[Context, None]


def targeting_draft(given: TargetingInput | None) -> task_service.TargetingDraft:
    if given is None:
        return task_service.TargetingDraft()
    return task_service.TargetingDraft(
        countries_allowed=given.countries_allowed,
        countries_denied=given.countries_denied,
        min_approval_rate=given.min_approval_rate,
        min_reviewed_count=given.min_reviewed_count,
        skill_filters=[
            task_service.SkillFilterDraft(
                skill_id=pk_of(f.skill_id, "Skill"), operator=f.operator.value, value=f.value
            )
            for f in given.skill_filters
        ],
        invited_worker_ids=[pk_of(i, "Worker") for i in given.invited_worker_ids],
        previous_performers_min_approval_rate=given.previous_performers_min_approval_rate,
    )


def proof_drafts(given: list[ProofRequirementInput]) -> list[task_service.ProofRequirementDraft]:
    return [
        task_service.ProofRequirementDraft(
            name=p.name, kind=p.kind, required=p.required, description=p.description
        )
        for p in given
    ]


def task_draft(given: CreateTaskInput) -> task_service.TaskDraft:
    return task_service.TaskDraft(
        title=given.title,
        instructions=given.instructions,
        reward=given.reward,
        budget=given.budget,
        time_limit_seconds=given.time_limit_seconds,
        proof_requirements=proof_drafts(given.proof_requirements),
        category=given.category,
        max_submissions=given.max_submissions,
        max_submissions_per_worker=given.max_submissions_per_worker,
        daily_submission_limit=given.daily_submission_limit,
        starts_at=given.starts_at,
        expires_at=given.expires_at,
        acceptance_mode=given.acceptance_mode,
        auto_approval_delay_seconds=given.auto_approval_delay_seconds,
        targeting=targeting_draft(given.targeting),
        batch_id=require_pk(given.batch_id, "Batch", "batch_id") if given.batch_id else None,
        variant_group=given.variant_group,
        callback_url=given.callback_url,
        reopen_rejected_slots=given.reopen_rejected_slots,
        reopen_banned_worker_slots=given.reopen_banned_worker_slots,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[CanManage])
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectPayload:
        try:
            project = await project_service.create_project(
                info.context.member, input.name, input.description
            )
        except UseCaseError as error:
            return CreateProjectPayload(user_errors=user_errors(error))
        return CreateProjectPayload(project=Project.from_model(project))

    @strawberry.mutation(permission_classes=[CanManage], description="Create a task as a DRAFT.")
    async def create_task(self, info: Info, input: CreateTaskInput) -> CreateTaskPayload:
        try:
            task = await task_service.create_task(
                info.context.member, pk_of(input.project_id, "Project"), task_draft(input)
            )
        except UseCaseError as error:
            return CreateTaskPayload(user_errors=user_errors(error))
        return CreateTaskPayload(
            task=Task.from_model(task, (await info.context.account()).currency)
        )
