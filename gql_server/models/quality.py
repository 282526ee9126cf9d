"""Quality control: skills and their values, restrictions, rules and their firings."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

from gql_server.models.base import Entity
from gql_server.models.enums import (
    ActorKind,
    RestrictionKind,
    RestrictionScope,
    SkillScope,
)
from gql_server.rules.vocabulary import RuleType


class Skill(Entity):
    account = fields.ForeignKeyField(
        "models.Account", related_name="skills", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    scope = fields.CharEnumField(SkillScope, max_length=16, default=SkillScope.TASK)

    class Meta:
        table = "skill"
        unique_together = (("account", "name"),)


class WorkerSkill(Entity):
    """The current value of a skill for a worker (the latest of its history)."""

    skill = fields.ForeignKeyField(
        "models.Skill", related_name="worker_values", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="skills", on_delete=fields.CASCADE
    )
    value = fields.SmallIntField()
    # The task or project whose results produced the value, per the skill's scope.
    task = fields.ForeignKeyField(
        "models.Task", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    project = fields.ForeignKeyField(
        "models.Project", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "worker_skill"
        unique_together = (("skill", "worker"),)
        indexes = (Index(fields=("skill_id", "value"), name="worker_skill_skill_value"),)
        constraints = (CheckConstraint(check="value BETWEEN 0 AND 100", name="worker_skill_range"),)


class SkillValue(Entity):
    """One change of the skill value of a worker: the history behind WorkerSkill."""

    skill = fields.ForeignKeyField("models.Skill", related_name="history", on_delete=fields.CASCADE)
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="skill_history", on_delete=fields.CASCADE
    )
    value = fields.SmallIntField()
    task = fields.ForeignKeyField(
        "models.Task", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    project = fields.ForeignKeyField(
        "models.Project", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    member = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    rule_firing = fields.ForeignKeyField(
        "models.RuleFiring", related_name=False, null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "skill_value"
        indexes = (
            Index(fields=("skill_id", "worker_id", "created_at"), name="skill_value_history"),
        )
        constraints = (CheckConstraint(check="value BETWEEN 0 AND 100", name="skill_value_range"),)


class Restriction(Entity):
    """A ban or suspension of a worker. Only the requester may read `reason`."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="restrictions", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="restrictions", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(RestrictionKind, max_length=16)
    scope = fields.CharEnumField(RestrictionScope, max_length=16)
    task = fields.ForeignKeyField(
        "models.Task", related_name="restrictions", null=True, on_delete=fields.CASCADE
    )
    project = fields.ForeignKeyField(
        "models.Project", related_name="restrictions", null=True, on_delete=fields.CASCADE
    )
    reason = fields.TextField(default="")
    starts_at = fields.DatetimeField()
    # None: for good.
    ends_at = fields.DatetimeField(null=True)
    lifted_at = fields.DatetimeField(null=True)
    lifted_by = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    created_by = fields.ForeignKeyField(
        "models.Member", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    rule = fields.ForeignKeyField(
        "models.Rule", related_name="restrictions", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "restriction"
        indexes = (
            Index(fields=("worker_id", "account_id", "ends_at"), name="restriction_worker_account"),
        )
        constraints = (
            CheckConstraint(
                check="(scope = 'TASK' AND task_id IS NOT NULL) OR "
                "(scope = 'PROJECT' AND project_id IS NOT NULL) OR scope = 'ACCOUNT'",
                name="restriction_scope_target",
            ),
        )


class Rule(Entity):
    """A quality-control or automation rule of a task, or of a project (all its tasks)."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="rules", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="rules", null=True, on_delete=fields.CASCADE
    )
    project = fields.ForeignKeyField(
        "models.Project", related_name="rules", null=True, on_delete=fields.CASCADE
    )
    type = fields.CharEnumField(RuleType, max_length=32)
    name = fields.CharField(max_length=200, default="")
    # How many of the worker's most recent results to use; set = counted across the project.
    recent_values = fields.IntField(null=True)
    # [{"metric", "operator", "value"}], all of which must hold.
    conditions = fields.JSONField()
    # {"type", ...parameters}
    action = fields.JSONField()
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "rule"
        indexes = (
            Index(fields=("task_id", "type", "enabled"), name="rule_task_type"),
            Index(fields=("project_id", "type", "enabled"), name="rule_project_type"),
        )
        constraints = (
            CheckConstraint(
                check="(task_id IS NULL) <> (project_id IS NULL)", name="rule_has_one_scope"
            ),
        )


class RuleFiring(Entity):
    """A rule acted: the metrics that made it fire, the action and what it did.

    Only actions that changed something are recorded, so a rule that keeps matching a
    worker it already restricted leaves no new rows.
    """

    rule = fields.ForeignKeyField("models.Rule", related_name="firings", on_delete=fields.CASCADE)
    account = fields.ForeignKeyField(
        "models.Account", related_name="rule_firings", on_delete=fields.CASCADE
    )
    # None for a rule about the task itself (an automatic top-up of its budget).
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="rule_firings", null=True, on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="rule_firings", null=True, on_delete=fields.CASCADE
    )
    submission = fields.ForeignKeyField(
        "models.Submission", related_name="rule_firings", null=True, on_delete=fields.SET_NULL
    )
    metrics = fields.JSONField()
    action = fields.JSONField()
    # What the action did, e.g. {"restriction_id": 7} or {"already_in_effect": true}.
    outcome = fields.JSONField(default=dict)

    class Meta:
        table = "rule_firing"
        indexes = (
            Index(fields=("rule_id", "created_at"), name="rule_firing_rule_created"),
            Index(fields=("task_id", "created_at"), name="rule_firing_task_created"),
            Index(
                fields=("account_id", "worker_id", "created_at"), name="rule_firing_worker_created"
            ),
        )
