"""Root mutations: each takes one `input` and returns a payload with `userErrors`."""

from __future__ import annotations

import strawberry

from gql_server.resolvers.context import Context
from gql_server.resolvers.permissions import CanManage
from gql_server.schema.errors import user_errors
from gql_server.schema.inputs import CreateProjectInput, CreateTaskInput
from gql_server.schema.payloads import CreateProjectPayload, CreateTaskPayload
from gql_server.schema.types import Project, Task
from gql_server.services import projects as project_service
from gql_server.services import tasks as task_service
from gql_server.services.errors import UseCaseError
from gql_server.services.global_ids import pk_of

Info = strawberry.Info[Context, None]


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
                info.context.member, pk_of(input.project_id, "Project"), input.to_draft()
            )
        except UseCaseError as error:
            return CreateTaskPayload(user_errors=user_errors(error))
        return CreateTaskPayload(
            task=Task.from_model(task, (await info.context.account()).currency)
        )
