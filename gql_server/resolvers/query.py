"""Root queries."""

from __future__ import annotations

import strawberry

from gql_server import models
from gql_server.resolvers.common import filter_pk
from gql_server.resolvers.context import Context
from gql_server.resolvers.permissions import CanManage, IsAuthenticated, IsMember
from gql_server.schema.audits import Audit
from gql_server.schema.callbacks import CallbackEvent
from gql_server.schema.enums import OrderDirection
from gql_server.schema.errors import BadInput
from gql_server.schema.inputs import TaskFilter, TaskOrder
from gql_server.schema.quality import Restriction, Skill
from gql_server.schema.relay import Node, from_global_id, pk_of
from gql_server.schema.rules import Rule, RuleFiring
from gql_server.schema.types import (
    Account,
    Member,
    Principal,
    Project,
    ProjectConnection,
    Task,
    TaskConnection,
    Worker,
)
from gql_server.schema.work import MySubmission, Submission, Template
from gql_server.services import projects as project_service
from gql_server.services import tasks as task_service
from gql_server.services.errors import UseCaseError
from gql_server.services.pagination import PageRequest
from gql_server.services.principals import MemberPrincipal, WorkerPrincipal

Info = strawberry.Info[Context, None]


async def _node_for_member(
    principal: MemberPrincipal, info: Info, type_name: str, pk: int
) -> Node | None:
    account_id = principal.account_id
    if type_name == "Task":
        task = await models.Task.get_or_none(id=pk, account_id=account_id)
        return Task.from_model(task, (await info.context.account()).currency) if task else None
    if type_name == "Project":
        project = await models.Project.get_or_none(id=pk, account_id=account_id)
        return Project.from_model(project) if project else None
    if type_name == "Member":
        member = await models.Member.get_or_none(id=pk, account_id=account_id)
        return Member.from_model(member) if member else None
    if type_name == "Submission":
        submission = await models.Submission.get_or_none(id=pk, account_id=account_id)
        return (
            Submission.from_model(submission, (await info.context.account()).currency)
            if submission
            else None
        )
    if type_name == "Template":
        template = await models.Template.get_or_none(id=pk, account_id=account_id)
        return Template.from_model(template) if template else None
    if type_name == "Audit":
        audit = await models.Audit.get_or_none(id=pk, account_id=account_id)
        return Audit.from_model(audit) if audit else None
    if type_name == "CallbackEvent" and principal.role in CanManage.roles:
        event = await models.OutboxEvent.get_or_none(id=pk, account_id=account_id)
        return CallbackEvent.from_model(event) if event else None
    if type_name == "Skill":
        skill = await models.Skill.get_or_none(id=pk, account_id=account_id)
        return Skill.from_model(skill) if skill else None
    if type_name == "Restriction":
        restriction = await models.Restriction.get_or_none(id=pk, account_id=account_id)
        return Restriction.from_model(restriction) if restriction else None
    if type_name == "Rule":
        rule = await models.Rule.get_or_none(id=pk, account_id=account_id)
        return Rule.from_model(rule, (await info.context.account()).currency) if rule else None
    if type_name == "RuleFiring":
        firing = await models.RuleFiring.get_or_none(id=pk, account_id=account_id)
        currency = (await info.context.account()).currency
        return RuleFiring.from_model(firing, currency) if firing else None
    if type_name == "Account" and pk == account_id:
        return Account.from_model(await info.context.account())
    # Workers are global; a member sees those who have worked for the account.
    if (
        type_name == "Worker"
        and await models.Submission.filter(worker_id=pk, account_id=account_id).exists()
    ):
        return Worker.from_model(await info.context.loaders.worker.load(pk))
    return None


async def _node_for_worker(
    principal: WorkerPrincipal, info: Info, type_name: str, pk: int
) -> Node | None:
    if type_name == "Worker" and pk == principal.worker_id:
        return Worker.from_model(await info.context.loaders.worker.load(pk))
    if type_name == "Submission":
        submission = await models.Submission.get_or_none(id=pk, worker_id=principal.worker_id)
        if submission is not None:
            account = await info.context.loaders.account.load(submission.account_id)
            return MySubmission.from_model(submission, account.currency)
    return None


def _page(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    return PageRequest(first=first, after=after, last=last, before=before)


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[IsAuthenticated], description="The caller: a member or a worker."
    )
    async def me(self, info: Info) -> Principal:
        principal = info.context.principal
        if isinstance(principal, WorkerPrincipal):
            return Worker.from_model(await info.context.loaders.worker.load(principal.worker_id))
        assert isinstance(principal, MemberPrincipal)
        return Member.from_model(await models.Member.get(id=principal.member_id))

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Any object by its global id; null if it does not exist or is not yours.",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        decoded = from_global_id(id)
        if decoded is None:
            return None
        principal = info.context.principal
        if isinstance(principal, MemberPrincipal):
            return await _node_for_member(principal, info, *decoded)
        if isinstance(principal, WorkerPrincipal):
            return await _node_for_worker(principal, info, *decoded)
        return None

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
        try:
            task_filter = task_service.TaskFilter(
                statuses=given.statuses,
                project_id=filter_pk(given.project_id, "Project", "projectId"),
                batch_id=filter_pk(given.batch_id, "Batch", "batchId"),
                variant_group=given.variant_group,
                search=given.search,
            )
            page = await task_service.list_tasks(
                info.context.member.account_id,
                task_filter,
                order.field.value,
                order.direction == OrderDirection.DESC,
                _page(first, after, last, before),
            )
        except UseCaseError as error:
            raise BadInput.from_use_case(error) from None
        currency = (await info.context.account()).currency
        return TaskConnection.from_page(page, lambda task: Task.from_model(task, currency))

    @strawberry.field(permission_classes=[IsMember])
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectConnection:
        try:
            page = await project_service.list_projects(
                info.context.member.account_id, _page(first, after, last, before)
            )
        except UseCaseError as error:
            raise BadInput.from_use_case(error) from None
        return ProjectConnection.from_page(page, Project.from_model)
