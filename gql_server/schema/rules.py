"""Quality-control and automation rules, what they did (firings), and dry runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gql_server import models
from gql_server.models import enums as domain
from gql_server.rules import metrics as rule_metrics
from gql_server.rules import vocabulary
from gql_server.rules.evaluation import Decision
from gql_server.rules.triggers import FAMILIES
from gql_server.schema.errors import UserError
from gql_server.schema.quality import Restriction, Skill
from gql_server.schema.relay import Connection, Node, to_global_id
from gql_server.schema.scalars import Decimal
from gql_server.schema.types import Info, Money, Project, Task, Worker
from gql_server.schema.work import Submission


def _metric_docs() -> str:
    """Which metrics go with which rule type, for the enum's description."""
    return " ".join(
        f"{family.rule_type.value} after {family.event.value}: "
        + ", ".join(f"{m.value} ({rule_metrics.SPECS[m].label})" for m in family.metrics)
        + "."
        for family in FAMILIES
    )


RuleType = strawberry.enum(
    vocabulary.RuleType,
    description="Which history a rule's conditions measure, and after which event it runs: "
    "REVIEW_RESULTS after each review, EARNINGS after each payment to the worker, "
    "SUBMITTED_ANSWERS and FAST_RESPONSES after each submission, AUDIT_RESULTS after each "
    "audit; AUTOMATION after a submission (approve, reject; a bonus once the work is "
    "approved) or after the remaining budget went down (top up).",
)
RuleMetric = strawberry.enum(
    rule_metrics.Metric,
    name="RuleMetric",
    description="What a condition measures. Percentages are 0-100, money metrics are compared "
    "with an `amount`. " + _metric_docs(),
)
RuleOperator = strawberry.enum(
    vocabulary.Operator,
    name="RuleOperator",
    description="metric <operator> value: GT more than, GTE at least, LT less than, LTE at "
    "most, EQ exactly, NEQ anything but. Nothing holds of an undefined metric (a share of 0).",
)
RuleActionType = strawberry.enum(
    vocabulary.ActionType,
    name="RuleActionType",
    description="SET_SKILL_FROM_ACCEPTED_PERCENT (skill := accepted %), SET_SKILL_VALUE, "
    "ACCEPT_ANSWERS / DECLINE_ANSWERS (the worker's pending and future answers in the task; "
    "manual review only), SUSPEND_IN_TASK, BAN (project or account, for days or for good), "
    "PAY_BONUS; automation only: APPROVE, REJECT (the answer just submitted), TOP_UP (the "
    "task's budget from the account balance, up to a cap).",
)
BanScope = strawberry.enum(
    vocabulary.BanScope,
    name="BanScope",
    description="PROJECT: the rule's project; ACCOUNT: all the account's projects.",
)

_MONEY_METRICS = frozenset(
    m for m, spec in rule_metrics.SPECS.items() if spec.scale is rule_metrics.MONEY
)


def is_money(metric: rule_metrics.Metric) -> bool:
    return metric in _MONEY_METRICS


def _money(minor: Any, currency: domain.Currency) -> Money | None:
    return None if minor is None else Money.of(int(minor), currency)


def _skill_id(pk: Any) -> strawberry.ID | None:
    return None if pk is None else to_global_id("Skill", int(pk))


async def _skill(info: Info, pk: int | None) -> Skill | None:
    if pk is None:
        return None
    found = await models.Skill.get_or_none(id=pk, account_id=info.context.member.account_id)
    return Skill.from_model(found) if found else None


@strawberry.type(description="`metric <operator> value` (or `amount` for money metrics).")
class RuleCondition:
    metric: RuleMetric
    operator: RuleOperator
    value: float | None = strawberry.field(description="null for money metrics: see amount.")
    amount: Money | None = strawberry.field(description="For money metrics.")
    skill_id: strawberry.ID | None = strawberry.field(description="For WORKER_SKILL.")
    threshold_seconds: int | None = strawberry.field(
        description="For FAST_COUNT: faster than this counts as fast."
    )

    @strawberry.field(description="The skill of a WORKER_SKILL condition.")
    async def skill(self, info: Info) -> Skill | None:
        return await _skill(info, self.skill_pk)

    skill_pk: strawberry.Private[int | None]

    @classmethod
    def from_json(cls, data: dict[str, Any], currency: domain.Currency) -> RuleCondition:
        metric = rule_metrics.Metric(data["metric"])
        money = is_money(metric)
        return cls(
            metric=metric,
            operator=vocabulary.Operator(data["operator"]),
            value=None if money else float(data["value"]),
            amount=_money(data["value"], currency) if money else None,
            skill_id=_skill_id(data.get("skill_id")),
            threshold_seconds=data.get("threshold_seconds"),
            skill_pk=data.get("skill_id"),
        )


@strawberry.type(description="What a rule does; only the parameters of its type are set.")
class RuleAction:
    type: RuleActionType
    skill_id: strawberry.ID | None
    value: int | None = strawberry.field(description="SET_SKILL_VALUE: 0-100.")
    days: int | None = strawberry.field(description="SUSPEND_IN_TASK, BAN: null for good.")
    permanent: bool | None = strawberry.field(description="BAN: for good.")
    scope: BanScope | None
    reason: str | None = strawberry.field(
        description="DECLINE_ANSWERS, REJECT: the feedback the worker reads. SUSPEND_IN_TASK, "
        "BAN: private to the requester."
    )
    amount: Money | None = strawberry.field(description="PAY_BONUS, TOP_UP.")
    cap: Money | None = strawberry.field(description="TOP_UP: at most this much in all.")
    skill_pk: strawberry.Private[int | None]

    @strawberry.field
    async def skill(self, info: Info) -> Skill | None:
        return await _skill(info, self.skill_pk)

    @classmethod
    def from_json(cls, data: dict[str, Any], currency: domain.Currency) -> RuleAction:
        return cls(
            type=vocabulary.ActionType(data["type"]),
            skill_id=_skill_id(data.get("skill_id")),
            value=data.get("value"),
            days=data.get("days"),
            permanent=data.get("permanent"),
            scope=vocabulary.BanScope(data["scope"]) if data.get("scope") else None,
            reason=data.get("reason"),
            amount=_money(data.get("amount"), currency),
            cap=_money(data.get("cap"), currency),
            skill_pk=data.get("skill_id"),
        )


@strawberry.type(
    description="A quality-control or automation rule of a task, or of a project (all its "
    "tasks). Its conditions must all hold for its action to be taken."
)
class Rule(Node):
    name: str
    type: RuleType
    recent_values: int | None = strawberry.field(
        description="How many of the worker's most recent results the metrics count: null = "
        "all of them in the task; set = the most recent across the project's tasks (review "
        "and audit results)."
    )
    conditions: list[RuleCondition]
    action: RuleAction
    enabled: bool
    created_at: datetime
    updated_at: datetime | None
    task_pk: strawberry.Private[int | None]
    project_pk: strawberry.Private[int | None]

    @strawberry.field(description="The task, for a task's rule.")
    async def task(self, info: Info) -> Task | None:
        if self.task_pk is None:
            return None
        task = await info.context.loaders.task.load(self.task_pk)
        return Task.from_model(task, (await info.context.account()).currency)

    @strawberry.field(description="The project, for a project's rule (it applies to all tasks).")
    async def project(self, info: Info) -> Project | None:
        if self.project_pk is None:
            return None
        return Project.from_model(await info.context.loaders.project.load(self.project_pk))

    @classmethod
    def from_model(cls, rule: models.Rule, currency: domain.Currency) -> Rule:
        return cls(
            id=to_global_id("Rule", rule.id),
            name=rule.name,
            type=rule.type,
            recent_values=rule.recent_values,
            conditions=[RuleCondition.from_json(c, currency) for c in rule.conditions],
            action=RuleAction.from_json(rule.action, currency),
            enabled=rule.enabled,
            created_at=rule.created_at,
            updated_at=rule.updated_at,
            task_pk=rule.task_id,
            project_pk=rule.project_id,
        )


@strawberry.type(description="A metric's value when the rule was evaluated.")
class RuleMetricValue:
    metric: RuleMetric
    value: float | None = strawberry.field(
        description="null when undefined (a share of nothing, a skill the worker lacks) or for "
        "money metrics (see amount)."
    )
    amount: Money | None
    skill_id: strawberry.ID | None
    threshold_seconds: int | None

    @classmethod
    def from_json(cls, key: str, value: Any, currency: domain.Currency) -> RuleMetricValue:
        name, _, parameter = key.partition(":")
        metric = rule_metrics.Metric(name)
        spec = rule_metrics.SPECS[metric]
        money = is_money(metric)
        pk = int(parameter) if parameter else None
        return cls(
            metric=metric,
            value=None if money or value is None else float(value),
            amount=_money(value, currency) if money else None,
            skill_id=_skill_id(pk) if spec.parameter is rule_metrics.Parameter.SKILL_ID else None,
            threshold_seconds=(
                pk if spec.parameter is rule_metrics.Parameter.THRESHOLD_SECONDS else None
            ),
        )

    @classmethod
    def list_of(cls, metrics: dict[str, Any], currency: domain.Currency) -> list[RuleMetricValue]:
        return [cls.from_json(key, value, currency) for key, value in metrics.items()]


@strawberry.type(description="What the action did.")
class RuleFiringOutcome:
    restriction_id: strawberry.ID | None = strawberry.field(
        description="SUSPEND_IN_TASK, BAN: the restriction imposed."
    )
    skill_value: int | None = strawberry.field(description="The skill value set.")
    reviewed_submission_ids: list[strawberry.ID] = strawberry.field(
        description="The answers approved or rejected."
    )
    bonus_submission_ids: list[strawberry.ID] = strawberry.field(
        description="The answers a bonus was paid on."
    )
    amount: Money | None = strawberry.field(description="Each bonus paid, or the top-up.")
    restriction_pk: strawberry.Private[int | None]

    @strawberry.field
    async def restriction(self, info: Info) -> Restriction | None:
        if self.restriction_pk is None:
            return None
        found = await models.Restriction.get_or_none(
            id=self.restriction_pk, account_id=info.context.member.account_id
        )
        return Restriction.from_model(found) if found else None

    @classmethod
    def from_json(cls, data: dict[str, Any], currency: domain.Currency) -> RuleFiringOutcome:
        restriction = data.get("restriction_id")

        def ids(key: str) -> list[strawberry.ID]:
            return [to_global_id("Submission", pk) for pk in data.get(key, [])]

        return cls(
            restriction_id=to_global_id("Restriction", restriction) if restriction else None,
            skill_value=data.get("skill_value"),
            reviewed_submission_ids=ids("reviewed_submission_ids"),
            bonus_submission_ids=ids("bonus_submission_ids"),
            amount=_money(data.get("amount_minor", data.get("topped_up_minor")), currency),
            restriction_pk=restriction,
        )


@strawberry.type(
    description="A rule acted: on which worker (and answer), the metric values that made it "
    "fire, the action and what it did. A rule whose action is already in effect records none."
)
class RuleFiring(Node):
    metrics: list[RuleMetricValue]
    action: RuleAction
    outcome: RuleFiringOutcome
    created_at: datetime
    rule_pk: strawberry.Private[int]
    worker_pk: strawberry.Private[int | None]
    task_pk: strawberry.Private[int | None]
    submission_pk: strawberry.Private[int | None]
    currency: strawberry.Private[domain.Currency]

    @strawberry.field
    async def rule(self, info: Info) -> Rule:
        return Rule.from_model(await info.context.loaders.rule.load(self.rule_pk), self.currency)

    @strawberry.field(description="null for a rule about the task's budget.")
    async def worker(self, info: Info) -> Worker | None:
        if self.worker_pk is None:
            return None
        return Worker.from_model(await info.context.loaders.worker.load(self.worker_pk))

    @strawberry.field
    async def task(self, info: Info) -> Task | None:
        if self.task_pk is None:
            return None
        task = await info.context.loaders.task.load(self.task_pk)
        return Task.from_model(task, self.currency)

    @strawberry.field(description="The answer the event was about, if one.")
    async def submission(self, info: Info) -> Submission | None:
        if self.submission_pk is None:
            return None
        found = await info.context.loaders.submission.load(self.submission_pk)
        return Submission.from_model(found, self.currency)

    @classmethod
    def from_model(cls, firing: models.RuleFiring, currency: domain.Currency) -> RuleFiring:
        return cls(
            id=to_global_id("RuleFiring", firing.id),
            metrics=RuleMetricValue.list_of(firing.metrics, currency),
            action=RuleAction.from_json(firing.action, currency),
            outcome=RuleFiringOutcome.from_json(firing.outcome or {}, currency),
            created_at=firing.created_at,
            rule_pk=firing.rule_id,
            worker_pk=firing.worker_id,
            task_pk=firing.task_id,
            submission_pk=firing.submission_id,
            currency=currency,
        )


RuleConnection = Connection[Rule]
RuleFiringConnection = Connection[RuleFiring]


@strawberry.type(description="One thing a dry run says the rule would act on now, and why.")
class RuleDryRunMatch:
    metrics: list[RuleMetricValue]
    action: RuleAction = strawberry.field(
        description="As it would be taken (skill := accepted % resolved to its value)."
    )
    worker_pk: strawberry.Private[int | None]
    task_pk: strawberry.Private[int | None]
    submission_pk: strawberry.Private[int | None]
    currency: strawberry.Private[domain.Currency]

    @strawberry.field
    async def worker(self, info: Info) -> Worker | None:
        if self.worker_pk is None:
            return None
        return Worker.from_model(await info.context.loaders.worker.load(self.worker_pk))

    @strawberry.field(description="null when the rule counts the worker's results project-wide.")
    async def task(self, info: Info) -> Task | None:
        if self.task_pk is None:
            return None
        return Task.from_model(await info.context.loaders.task.load(self.task_pk), self.currency)

    @strawberry.field(description="The pending answer, for a per-answer automation rule.")
    async def submission(self, info: Info) -> Submission | None:
        if self.submission_pk is None:
            return None
        found = await info.context.loaders.submission.load(self.submission_pk)
        return Submission.from_model(found, self.currency)

    @classmethod
    def of(
        cls,
        decision: Decision,
        worker_id: int | None,
        task_id: int | None,
        submission_id: int | None,
        currency: domain.Currency,
    ) -> RuleDryRunMatch:
        action = decision.action_json()
        assert action is not None
        return cls(
            metrics=RuleMetricValue.list_of(decision.metrics_json(), currency),
            action=RuleAction.from_json(action, currency),
            worker_pk=worker_id,
            task_pk=task_id,
            submission_pk=submission_id,
            currency=currency,
        )


@strawberry.type(
    description="What a rule would do now with the recorded history, without doing it. "
    "Actions already in effect (a worker banned already) are listed too."
)
class RuleDryRun:
    evaluated_count: int = strawberry.field(
        description="Workers (per task), answers or tasks the rule was evaluated for."
    )
    matched_count: int
    truncated: bool = strawberry.field(description="More matched than `matches` lists.")
    matches: list[RuleDryRunMatch]


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input(description="`metric <operator> value`; money metrics take `amount` instead.")
class RuleConditionInput:
    metric: RuleMetric
    operator: RuleOperator
    value: float | None = strawberry.field(
        default=None,
        description="Counts and seconds are whole numbers; percentages and skills 0-100.",
    )
    amount: Decimal | None = strawberry.field(
        default=None, description="For money metrics, in the account's currency."
    )
    skill_id: strawberry.ID | None = strawberry.field(default=None, description="WORKER_SKILL.")
    threshold_seconds: int | None = strawberry.field(default=None, description="FAST_COUNT.")


@strawberry.input(description="An action: its type and the parameters that type takes.")
class RuleActionInput:
    type: RuleActionType
    skill_id: strawberry.ID | None = None
    value: int | None = None
    days: int | None = None
    permanent: bool | None = None
    scope: BanScope | None = None
    reason: str | None = None
    amount: Decimal | None = None
    cap: Decimal | None = None


@strawberry.input(description="A rule of a task (taskId) or of a project (projectId).")
class CreateRuleInput:
    type: RuleType
    task_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    name: str = ""
    recent_values: int | None = None
    conditions: list[RuleConditionInput] | None = strawberry.field(
        default=None, description="At least one; all must hold."
    )
    action: RuleActionInput | None = strawberry.field(default=None, description="Required.")
    enabled: bool = True


@strawberry.input(description="Omitted fields keep their value; the result is checked whole.")
class UpdateRuleInput:
    rule_id: strawberry.ID
    name: str | None = strawberry.UNSET
    type: RuleType | None = strawberry.UNSET
    recent_values: int | None = strawberry.UNSET
    conditions: list[RuleConditionInput] | None = strawberry.UNSET
    action: RuleActionInput | None = strawberry.UNSET


@strawberry.input
class SetRuleEnabledInput:
    rule_id: strawberry.ID
    enabled: bool


@strawberry.input
class DeleteRuleInput:
    rule_id: strawberry.ID


@strawberry.input(
    description="A saved rule (ruleId), or a config to try on a task or a project, like "
    "createRule's."
)
class DryRunRuleInput:
    rule_id: strawberry.ID | None = None
    type: RuleType | None = None
    task_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    recent_values: int | None = None
    conditions: list[RuleConditionInput] | None = None
    action: RuleActionInput | None = None


@strawberry.input(description="Every field narrows.")
class RuleFilter:
    task_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    include_project_rules: bool = strawberry.field(
        default=False, description="With taskId: also its project's rules, which apply to it."
    )
    enabled: bool | None = None


@strawberry.input(description="Every field narrows.")
class RuleFiringFilter:
    rule_id: strawberry.ID | None = None
    task_id: strawberry.ID | None = None
    worker_id: strawberry.ID | None = None


# --- payloads --------------------------------------------------------------------------------


@strawberry.type
class RulePayload:
    rule: Rule | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteRulePayload:
    deleted_rule_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
