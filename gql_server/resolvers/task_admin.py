"""A task's life and money (publish, pause, resume, close, budget), and how tasks are
organised: templates and batches."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server import models
from gql_server.resolvers.common import Info, amount, mutate, page, query
from gql_server.resolvers.permissions import CanManage, IsMember
from gql_server.schema.administration import (
    BatchConnection,
    BatchPayload,
    CreateBatchInput,
    DeleteTemplateInput,
    DeleteTemplatePayload,
    TemplateConnection,
    UpdateBatchInput,
)
from gql_server.schema.inputs import (
    ChangeTaskBudgetInput,
    CreateTaskFromTemplateInput,
    DuplicateTaskInput,
    FundAccountInput,
    SaveTaskAsTemplateInput,
    TaskIdInput,
    UpdateTaskInput,
    task_changes,
)
from gql_server.schema.payloads import FundAccountPayload, SaveTaskAsTemplatePayload, TaskPayload
from gql_server.schema.relay import to_global_id
from gql_server.schema.types import Account, Batch, Task
from gql_server.schema.work import Template
from gql_server.services import accounts, batches, task_lifecycle, tasks
from gql_server.services.global_ids import pk_of


async def _task(info: Info, task: Any) -> dict[str, Any]:
    return {"task": Task.from_model(task, (await info.context.account()).currency)}


async def _batch(batch: models.Batch) -> dict[str, Any]:
    return {"batch": Batch.from_model(batch)}


@strawberry.type
class TaskOrganisationQueries:
    @strawberry.field(
        permission_classes=[IsMember], description="The account's batches, newest first."
    )
    async def batches(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> BatchConnection:
        result = await query(
            lambda: batches.list_batches(
                info.context.member.account_id, page(first, after, last, before)
            )
        )
        return BatchConnection.from_page(result, Batch.from_model)

    @strawberry.field(
        permission_classes=[IsMember], description="The account's saved templates, newest first."
    )
    async def templates(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TemplateConnection:
        result = await query(
            lambda: tasks.list_templates(
                info.context.member.account_id, page(first, after, last, before)
            )
        )
        return TemplateConnection.from_page(result, Template.from_model)


@strawberry.type
class TaskAdminMutations:
    @strawberry.mutation(
        permission_classes=[CanManage], description="Add money to the account balance."
    )
    async def fund_account(self, info: Info, input: FundAccountInput) -> FundAccountPayload:
        member = info.context.member

        async def action() -> Any:
            account = await info.context.account()
            minor = amount(input.amount, account.currency, "amount")
            return await accounts.fund_account(member, minor, input.idempotency_key)

        async def present(account: Any) -> dict[str, Any]:
            return {"account": Account.from_model(account)}

        return await mutate(FundAccountPayload, action, present)

    @strawberry.mutation(
        permission_classes=[CanManage], description="Change fields of a DRAFT task."
    )
    async def update_task(self, info: Info, input: UpdateTaskInput) -> TaskPayload:
        return await mutate(
            TaskPayload,
            lambda: tasks.update_task(
                info.context.member, pk_of(input.task_id, "Task"), task_changes(input.changes)
            ),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="DRAFT -> OPEN: allocates the requested budget from the account balance.",
    )
    async def publish_task(self, info: Info, input: TaskIdInput) -> TaskPayload:
        member = info.context.member
        return await mutate(
            TaskPayload,
            lambda: task_lifecycle.publish_task(
                member,
                pk_of(input.task_id, "Task"),
                input.idempotency_key,
            ),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(
        permission_classes=[CanManage], description="OPEN -> PAUSED: no new starts."
    )
    async def pause_task(self, info: Info, input: TaskIdInput) -> TaskPayload:
        return await mutate(
            TaskPayload,
            lambda: task_lifecycle.pause_task(info.context.member, pk_of(input.task_id, "Task")),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(permission_classes=[CanManage], description="PAUSED -> OPEN.")
    async def resume_task(self, info: Info, input: TaskIdInput) -> TaskPayload:
        return await mutate(
            TaskPayload,
            lambda: task_lifecycle.resume_task(info.context.member, pk_of(input.task_id, "Task")),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Close by hand: the remaining budget returns; pending reviews go on.",
    )
    async def close_task(self, info: Info, input: TaskIdInput) -> TaskPayload:
        return await mutate(
            TaskPayload,
            lambda: task_lifecycle.close_task(
                info.context.member,
                pk_of(input.task_id, "Task"),
                input.idempotency_key,
            ),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Raise (from the balance) or lower (back to it) a task's budget.",
    )
    async def change_task_budget(self, info: Info, input: ChangeTaskBudgetInput) -> TaskPayload:
        member = info.context.member

        async def action() -> Any:
            account = await info.context.account()
            minor = amount(input.budget, account.currency, "budget")
            return await task_lifecycle.change_budget(
                member,
                pk_of(input.task_id, "Task"),
                minor,
                input.idempotency_key,
            )

        return await mutate(TaskPayload, action, lambda task: _task(info, task))

    @strawberry.mutation(permission_classes=[CanManage])
    async def save_task_as_template(
        self, info: Info, input: SaveTaskAsTemplateInput
    ) -> SaveTaskAsTemplatePayload:
        async def present(template: Any) -> dict[str, Any]:
            return {"template": Template.from_model(template)}

        return await mutate(
            SaveTaskAsTemplatePayload,
            lambda: tasks.save_as_template(
                info.context.member, pk_of(input.task_id, "Task"), input.name
            ),
            present,
        )

    @strawberry.mutation(
        permission_classes=[CanManage], description="A new DRAFT from a template, with changes."
    )
    async def create_task_from_template(
        self, info: Info, input: CreateTaskFromTemplateInput
    ) -> TaskPayload:
        return await mutate(
            TaskPayload,
            lambda: tasks.create_from_template(
                info.context.member,
                pk_of(input.template_id, "Template"),
                pk_of(input.project_id, "Project"),
                task_changes(input.changes),
            ),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(
        permission_classes=[CanManage], description="A new DRAFT copying a task, with changes."
    )
    async def duplicate_task(self, info: Info, input: DuplicateTaskInput) -> TaskPayload:
        return await mutate(
            TaskPayload,
            lambda: tasks.duplicate_task(
                info.context.member, pk_of(input.task_id, "Task"), task_changes(input.changes)
            ),
            lambda task: _task(info, task),
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="A named group of tasks; DUPLICATE if the account has one of that name.",
    )
    async def create_batch(self, info: Info, input: CreateBatchInput) -> BatchPayload:
        return await mutate(
            BatchPayload, lambda: batches.create_batch(info.context.member, input.name), _batch
        )

    @strawberry.mutation(permission_classes=[CanManage], description="Rename a batch.")
    async def update_batch(self, info: Info, input: UpdateBatchInput) -> BatchPayload:
        return await mutate(
            BatchPayload,
            lambda: batches.rename_batch(
                info.context.member, pk_of(input.batch_id, "Batch"), input.name
            ),
            _batch,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Delete a saved template; tasks made from it stay as they are.",
    )
    async def delete_template(
        self, info: Info, input: DeleteTemplateInput
    ) -> DeleteTemplatePayload:
        async def present(template: models.Template) -> dict[str, Any]:
            return {"deleted_template_id": to_global_id("Template", template.id)}

        return await mutate(
            DeleteTemplatePayload,
            lambda: tasks.delete_template(
                info.context.member, pk_of(input.template_id, "Template")
            ),
            present,
        )
