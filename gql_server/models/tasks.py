"""Tasks, and what workers do around them besides submitting: views, ratings, counters."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

from gql_server.models.base import Entity
from gql_server.models.enums import AcceptanceMode, CloseReason, TaskStatus


class Task(Entity):
    """One posted job.

    Money columns mirror the task's ledger buckets and are changed only by conditional
    updates, so `budget = committed + spent + remaining` holds in every committed state.
    """

    account = fields.ForeignKeyField(
        "models.Account", related_name="tasks", on_delete=fields.CASCADE
    )
    project = fields.ForeignKeyField(
        "models.Project", related_name="tasks", on_delete=fields.RESTRICT
    )
    batch = fields.ForeignKeyField(
        "models.Batch", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    template = fields.ForeignKeyField(
        "models.Template", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    created_by = fields.ForeignKeyField(
        "models.Member", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )

    title = fields.CharField(max_length=200)
    instructions = fields.TextField()
    # [{"name", "kind", "required", "description"}]: what a worker must attach.
    proof_requirements = fields.JSONField(default=list)
    category = fields.CharField(max_length=100, null=True)
    reward_minor = fields.BigIntField()
    max_submissions = fields.IntField(null=True)
    max_submissions_per_worker = fields.IntField(default=1)
    time_limit_seconds = fields.IntField()
    daily_submission_limit = fields.IntField(null=True)
    starts_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    acceptance_mode = fields.CharEnumField(
        AcceptanceMode, max_length=16, default=AcceptanceMode.MANUAL
    )
    auto_approval_delay_seconds = fields.IntField(default=0)
    # {"countries_allowed", "countries_denied", "min_approval_rate", "min_reviewed_count",
    #  "skill_filters": [{"skill_id", "operator", "value"}], "invited_worker_ids",
    #  "previous_performers": {"min_approval_rate", "min_approved"}}
    targeting = fields.JSONField(default=dict)
    variant_group = fields.CharField(max_length=100, null=True)
    callback_url = fields.CharField(max_length=2048, null=True)
    # Recompletion: give the slot of a rejected submission, or of one by a banned worker, back.
    reopen_rejected_slots = fields.BooleanField(default=False)
    reopen_banned_worker_slots = fields.BooleanField(default=False)

    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.DRAFT)
    close_reason = fields.CharEnumField(CloseReason, max_length=32, null=True)
    published_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(null=True)

    # The budget the requester asked for; allocated from the balance when the task opens.
    requested_budget_minor = fields.BigIntField()
    budget_minor = fields.BigIntField(default=0)
    committed_minor = fields.BigIntField(default=0)
    spent_minor = fields.BigIntField(default=0)
    remaining_minor = fields.BigIntField(default=0)
    # What automatic top-ups have added so far, checked against the automation's cap.
    topped_up_minor = fields.BigIntField(default=0)

    # Submissions holding a slot (not expired, not released), against max_submissions.
    slots_taken = fields.IntField(default=0)
    approved_count = fields.IntField(default=0)
    # Grows with every change a live stream reports (status, figures, queue).
    version = fields.BigIntField(default=0)

    class Meta:
        table = "task"
        indexes = (
            Index(
                fields=("account_id", "status", "created_at"), name="task_account_status_created"
            ),
            Index(fields=("account_id", "created_at"), name="task_account_created"),
            Index(fields=("account_id", "variant_group"), name="task_account_variant_group"),
            Index(fields=("status", "expires_at"), name="task_status_expires"),
        )
        constraints = (
            CheckConstraint(
                check="reward_minor > 0 AND requested_budget_minor >= 0",
                name="task_reward_positive",
            ),
            CheckConstraint(
                check="budget_minor >= 0 AND committed_minor >= 0 AND spent_minor >= 0 "
                "AND remaining_minor >= 0 AND topped_up_minor >= 0",
                name="task_money_not_negative",
            ),
            CheckConstraint(
                check="budget_minor = committed_minor + spent_minor + remaining_minor",
                name="task_money_balanced",
            ),
            CheckConstraint(
                check="slots_taken >= 0 AND approved_count >= 0", name="task_counts_not_negative"
            ),
        )


class TaskWorkerCounter(Entity):
    """Slots one worker holds in one task, against max_submissions_per_worker."""

    task = fields.ForeignKeyField(
        "models.Task", related_name="worker_counters", on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="task_counters", on_delete=fields.CASCADE
    )
    slots_taken = fields.IntField(default=0)

    class Meta:
        table = "task_worker_counter"
        unique_together = (("task", "worker"),)
        constraints = (
            CheckConstraint(check="slots_taken >= 0", name="task_worker_slots_not_negative"),
        )


class TaskDayCounter(Entity):
    """Submissions started in one task on one day, in the time zone of the account."""

    task = fields.ForeignKeyField(
        "models.Task", related_name="day_counters", on_delete=fields.CASCADE
    )
    day = fields.DateField()
    started = fields.IntField(default=0)

    class Meta:
        table = "task_day_counter"
        unique_together = (("task", "day"),)
        constraints = (CheckConstraint(check="started >= 0", name="task_day_started_not_negative"),)


class TaskView(Entity):
    """A worker saw the task in a listing (the denominator of the view rate)."""

    task = fields.ForeignKeyField("models.Task", related_name="views", on_delete=fields.CASCADE)
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="task_views", on_delete=fields.CASCADE
    )

    class Meta:
        table = "task_view"
        indexes = (Index(fields=("task_id", "created_at"), name="task_view_task_created"),)


class TaskRating(Entity):
    """The rating of task clarity and fairness by a worker, once per worker and task."""

    task = fields.ForeignKeyField("models.Task", related_name="ratings", on_delete=fields.CASCADE)
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="task_ratings", on_delete=fields.CASCADE
    )
    clarity = fields.SmallIntField()
    fairness = fields.SmallIntField()
    comment = fields.TextField(default="")

    class Meta:
        table = "task_rating"
        unique_together = (("task", "worker"),)
        constraints = (
            CheckConstraint(
                check="clarity BETWEEN 1 AND 5 AND fairness BETWEEN 1 AND 5",
                name="task_rating_range",
            ),
        )
