"""Root queries."""

from __future__ import annotations

import strawberry

from gql_server import models
from gql_server.resolvers.common import Info, page, query
from gql_server.resolvers.nodes import load_node
from gql_server.resolvers.permissions import IsAuthenticated, IsMember
from gql_server.schema.enums import OrderDirection
from gql_server.schema.inputs import TaskFilter, TaskOrder
from gql_server.schema.relay import Node
from gql_server.schema.types import (
    Account,
    Member,
    Operator,
    Principal,
    Project,
    ProjectConnection,
    Task,
    TaskConnection,
    Worker,
)
from gql_server.services import api_keys
from gql_server.services import projects as project_service
from gql_server.services import tasks as task_service
from gql_server.services.global_ids import pk_of
from gql_server.services.principals import MemberPrincipal, OperatorPrincipal, WorkerPrincipal


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The caller: a member, a worker or the operator.",
    )
    async def me(self, info: Info) -> Principal:
        principal = info.context.principal
        if isinstance(principal, WorkerPrincipal):
            return Worker.from_model(await info.context.loaders.worker.load(principal.worker_id))
        if isinstance(principal, OperatorPrincipal):
            return Operator(name=await api_keys.operator_name(principal))
        assert isinstance(principal, MemberPrincipal)
        # Read with the caller's key (app.get_context primes the loader with it).
        return Member.from_model(await info.context.loaders.member.load(principal.member_id))

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Any object by its global id; null if it does not exist or is not yours.",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        principal = info.context.principal
        assert principal is not None
        return await load_node(principal, info, id)

    @strawberry.field(permission_classes=[IsMember], description="The caller's account.")
    async def account(self, info: Info) -> Account:
        return Account.from_model(await info.context.account())

    @strawberry.field(permission_classes=[IsMember])
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        pk = pk_of(id, "Task")
        if pk is None:
            return None
        task = await models.Task.get_or_none(id=pk, account_id=info.context.member.account_id)
        return Task.from_model(task, (await info.context.account()).currency) if task else None

    @strawberry.field(
        permission_classes=[IsMember], description="The account's tasks, newest first by default."
    )
    async def tasks(
        self,
        info: Info,
        filter: TaskFilter | None = None,
        order_by: TaskOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TaskConnection:
        given = filter or TaskFilter()
        order = order_by or TaskOrder()
        found = await query(
            lambda: task_service.list_tasks(
                info.context.member.account_id,
                given.to_domain(),
                order.field.value,
                order.direction == OrderDirection.DESC,
                page(first, after, last, before),
            )
        )
        currency = (await info.context.account()).currency
        return TaskConnection.from_page(found, lambda task: Task.from_model(task, currency))

    @strawberry.field(permission_classes=[IsMember])
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectConnection:
        found = await query(
            lambda: project_service.list_projects(
                info.context.member.account_id, page(first, after, last, before)
            )
        )
        return ProjectConnection.from_page(found, Project.from_model)
