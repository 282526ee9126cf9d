"""Rules: listing and changing them (per task or project), their firings, and dry runs.

Members read; OWNER and MANAGER change. Money in rule inputs is a decimal string in the
account's currency, turned into minor units here; the service checks the rest.
"""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server import models
from gql_server.models.enums import Currency
from gql_server.resolvers.common import Info, filter_pk, mutate, page, query
from gql_server.resolvers.permissions import CanManage, IsMember
from gql_server.rules.metrics import Metric
from gql_server.schema.cost import REPORT
from gql_server.schema.errors import INPUT
from gql_server.schema.rules import (
    CreateRuleInput,
    DeleteRuleInput,
    DeleteRulePayload,
    DryRunRuleInput,
    Rule,
    RuleActionInput,
    RuleConditionInput,
    RuleConnection,
    RuleDryRun,
    RuleDryRunMatch,
    RuleFilter,
    RuleFiring,
    RuleFiringConnection,
    RuleFiringFilter,
    RulePayload,
    SetRuleEnabledInput,
    UpdateRuleInput,
    is_money,
)
from gql_server.services import rules
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError
from gql_server.services.global_ids import pk_of
from gql_server.services.money import AmountError, parse_amount


def input_pk(global_id: str, type_name: str) -> int:
    """The pk of an input id; 0, which no row has, when it is malformed or of another type,
    so that the service answers NOT_FOUND at its field along with every other problem."""
    return pk_of(global_id, type_name) or 0


def _amount(
    text: str, currency: Currency, path: tuple[str, ...], errors: list[FieldError]
) -> int | None:
    try:
        return parse_amount(text, currency)
    except AmountError as error:
        errors.append(FieldError(ErrorCode.VALIDATION, str(error), path))
        return None


def _conditions(
    given: list[RuleConditionInput] | None, currency: Currency, errors: list[FieldError]
) -> list[dict[str, Any]] | None:
    """The conditions in their stored shape; a money metric's amount becomes its value."""
    if given is None:
        return None
    found = []
    for index, condition in enumerate(given):
        path = ("conditions", index)
        metric = Metric(condition.metric.value)
        data: dict[str, Any] = {"metric": metric.value, "operator": condition.operator.value}
        if is_money(metric):
            if condition.value is not None:
                errors.append(
                    FieldError(
                        ErrorCode.VALIDATION,
                        f"{metric} is money: give 'amount' as a decimal string, not 'value'.",
                        (*path, "value"),
                    )
                )
            if condition.amount is None:
                errors.append(
                    FieldError(ErrorCode.VALIDATION, "'amount' is required.", (*path, "amount"))
                )
            else:
                data["value"] = _amount(condition.amount, currency, (*path, "amount"), errors)
        else:
            if condition.amount is not None:
                errors.append(
                    FieldError(
                        ErrorCode.VALIDATION,
                        f"Only money metrics take 'amount'; {metric} takes 'value'.",
                        (*path, "amount"),
                    )
                )
            data["value"] = condition.value
        if condition.skill_id is not None:
            data["skill_id"] = input_pk(condition.skill_id, "Skill")
        if condition.threshold_seconds is not None:
            data["threshold_seconds"] = condition.threshold_seconds
        found.append(data)
    return found


def _action(
    given: RuleActionInput | None, currency: Currency, errors: list[FieldError]
) -> dict[str, Any] | None:
    if given is None:
        return None
    path = ("action",)
    data: dict[str, Any] = {"type": given.type.value}
    if given.skill_id is not None:
        data["skill_id"] = input_pk(given.skill_id, "Skill")
    for key in ("value", "days", "permanent", "reason"):
        if getattr(given, key) is not None:
            data[key] = getattr(given, key)
    if given.scope is not None:
        data["scope"] = given.scope.value
    for key in ("amount", "cap"):
        text = getattr(given, key)
        if text is not None:
            data[key] = _amount(text, currency, (*path, key), errors)
    return data


def _draft(
    rule_type: Any,
    recent_values: int | None,
    conditions: list[RuleConditionInput] | None,
    action: RuleActionInput | None,
    currency: Currency,
) -> rules.RuleDraft:
    errors: list[FieldError] = []
    return rules.RuleDraft(
        type=rule_type.value if rule_type is not None else None,
        recent_values=recent_values,
        conditions=_conditions(conditions, currency, errors),
        action=_action(action, currency, errors),
        errors=tuple(errors),
    )


def _scope(task_id: strawberry.ID | None, project_id: strawberry.ID | None) -> rules.RuleScope:
    return rules.RuleScope(
        task_id=input_pk(task_id, "Task") if task_id is not None else None,
        project_id=input_pk(project_id, "Project") if project_id is not None else None,
    )


async def _currency(info: Info) -> Currency:
    return (await info.context.account()).currency


async def _rule_payload(info: Info, rule: models.Rule) -> dict[str, Any]:
    return {"rule": Rule.from_model(rule, await _currency(info))}


@strawberry.type
class RuleQueries:
    @strawberry.field(
        permission_classes=[IsMember],
        description="The account's rules, oldest first (the order they run in).",
    )
    async def rules(
        self,
        info: Info,
        filter: RuleFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RuleConnection:
        given = filter or RuleFilter()

        async def action() -> Any:
            return await rules.list_rules(
                info.context.member.account_id,
                rules.RuleFilter(
                    task_id=filter_pk(given.task_id, "Task", "task_id"),
                    project_id=filter_pk(given.project_id, "Project", "project_id"),
                    include_project_rules=given.include_project_rules,
                    enabled=given.enabled,
                ),
                page(first, after, last, before),
            )

        result = await query(action)
        currency = await _currency(info)
        return RuleConnection.from_page(result, lambda r: Rule.from_model(r, currency))

    @strawberry.field(permission_classes=[IsMember])
    async def rule(self, info: Info, id: strawberry.ID) -> Rule | None:
        found = await models.Rule.get_or_none(
            id=input_pk(id, "Rule"), account_id=info.context.member.account_id
        )
        return Rule.from_model(found, await _currency(info)) if found else None

    @strawberry.field(
        permission_classes=[IsMember], description="What the account's rules did, newest first."
    )
    async def rule_firings(
        self,
        info: Info,
        filter: RuleFiringFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> RuleFiringConnection:
        given = filter or RuleFiringFilter()

        async def action() -> Any:
            return await rules.list_firings(
                info.context.member.account_id,
                rules.FiringFilter(
                    rule_id=filter_pk(given.rule_id, "Rule", "rule_id"),
                    task_id=filter_pk(given.task_id, "Task", "task_id"),
                    worker_id=filter_pk(given.worker_id, "Worker", "worker_id"),
                ),
                page(first, after, last, before),
            )

        result = await query(action)
        currency = await _currency(info)
        return RuleFiringConnection.from_page(result, lambda f: RuleFiring.from_model(f, currency))

    @strawberry.field(
        permission_classes=[IsMember],
        description="Evaluate a saved rule, or a config, against the recorded history without "
        "acting: who (or which answers or tasks) it would act on now, and why. A bad config "
        "is BAD_USER_INPUT with the same userErrors as createRule.",
        directives=REPORT,
    )
    async def dry_run_rule(self, info: Info, input: DryRunRuleInput) -> RuleDryRun:
        account_id = info.context.member.account_id
        currency = await _currency(info)

        async def action() -> rules.DryRun:
            config_given = any(
                value is not None
                for value in (
                    input.type,
                    input.task_id,
                    input.project_id,
                    input.recent_values,
                    input.conditions,
                    input.action,
                )
            )
            if input.rule_id is not None:
                if config_given:
                    raise UseCaseError.single(
                        ErrorCode.VALIDATION,
                        "Give a saved rule or a config to try, not both.",
                        "rule_id",
                    )
                return await rules.dry_run(account_id, rule_id=input_pk(input.rule_id, "Rule"))
            return await rules.dry_run(
                account_id,
                scope=_scope(input.task_id, input.project_id),
                draft=_draft(
                    input.type, input.recent_values, input.conditions, input.action, currency
                ),
            )

        result = await query(action, inside=INPUT)
        return RuleDryRun(
            evaluated_count=result.evaluated,
            matched_count=result.matched,
            truncated=result.truncated,
            matches=[
                RuleDryRunMatch.of(m.decision, m.worker_id, m.task_id, m.submission_id, currency)
                for m in result.matches
            ],
        )


@strawberry.type
class RuleMutations:
    @strawberry.mutation(
        permission_classes=[CanManage],
        description="A rule of a task or of a project; every problem of the config is "
        "reported at its field and nothing is stored.",
    )
    async def create_rule(self, info: Info, input: CreateRuleInput) -> RulePayload:
        member = info.context.member

        async def action() -> models.Rule:
            currency = await _currency(info)
            return await rules.create_rule(
                member,
                _scope(input.task_id, input.project_id),
                _draft(input.type, input.recent_values, input.conditions, input.action, currency),
                name=input.name,
                enabled=input.enabled,
            )

        return await mutate(RulePayload, action, lambda r: _rule_payload(info, r))

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Change a rule; the result is checked as a whole, like a new rule.",
    )
    async def update_rule(self, info: Info, input: UpdateRuleInput) -> RulePayload:
        member = info.context.member

        async def action() -> models.Rule:
            currency = await _currency(info)
            errors: list[FieldError] = []
            changes: dict[str, Any] = {}
            if input.name is not strawberry.UNSET:
                changes["name"] = input.name
            if input.type is not strawberry.UNSET:
                changes["type"] = input.type.value if input.type is not None else None
            if input.recent_values is not strawberry.UNSET:
                changes["recent_values"] = input.recent_values
            if input.conditions is not strawberry.UNSET:
                changes["conditions"] = _conditions(input.conditions, currency, errors)
            if input.action is not strawberry.UNSET:
                changes["action"] = _action(input.action, currency, errors)
            return await rules.update_rule(member, input_pk(input.rule_id, "Rule"), changes, errors)

        return await mutate(RulePayload, action, lambda r: _rule_payload(info, r))

    @strawberry.mutation(permission_classes=[CanManage], description="Enable or disable a rule.")
    async def set_rule_enabled(self, info: Info, input: SetRuleEnabledInput) -> RulePayload:
        return await mutate(
            RulePayload,
            lambda: rules.set_rule_enabled(
                info.context.member, input_pk(input.rule_id, "Rule"), input.enabled
            ),
            lambda r: _rule_payload(info, r),
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Delete a rule with its firing log (disable it to keep the log). What it "
        "did (restrictions, skill values, payments) stays.",
    )
    async def delete_rule(self, info: Info, input: DeleteRuleInput) -> DeleteRulePayload:
        async def present(pk: int) -> dict[str, Any]:
            return {"deleted_rule_id": input.rule_id}

        return await mutate(
            DeleteRulePayload,
            lambda: rules.delete_rule(info.context.member, input_pk(input.rule_id, "Rule")),
            present,
        )
