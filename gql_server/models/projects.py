"""Projects, batches and task templates: the ways an account groups and reuses tasks."""

from __future__ import annotations

from tortoise import fields

from gql_server.models.base import Entity


class Project(Entity):
    account = fields.ForeignKeyField(
        "models.Account", related_name="projects", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")

    class Meta:
        table = "project"
        unique_together = (("account", "name"),)


class Batch(Entity):
    """A label grouping tasks for reports (the audit tracker, exports)."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="batches", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)

    class Meta:
        table = "batch"
        unique_together = (("account", "name"),)


class Template(Entity):
    """A saved task configuration (the task fields, as validated input) to create tasks from."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="templates", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    config = fields.JSONField()
    created_by = fields.ForeignKeyField(
        "models.Member", related_name="templates", null=True, on_delete=fields.SET_NULL
    )
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "template"
        unique_together = (("account", "name"),)
