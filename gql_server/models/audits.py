"""Audits of completed submissions and the leases that keep two auditors apart."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index

from gql_server.models.base import Entity
from gql_server.models.enums import AuditOutcome


class AuditLock(Entity):
    """The audit lease of one submission: one row per submission, reused by each holder.

    Taking it is a conditional update (free or expired -> held), never check-then-insert.
    `fencing_token` grows with every acquisition, so an audit sent under a lease that
    expired and was taken by someone else is recognised and refused.
    """

    submission = fields.OneToOneField(
        "models.Submission", related_name="audit_lock", on_delete=fields.CASCADE
    )
    account = fields.ForeignKeyField(
        "models.Account", related_name="audit_locks", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="audit_locks", on_delete=fields.CASCADE
    )
    holder = fields.ForeignKeyField(
        "models.Member", related_name="audit_locks", null=True, on_delete=fields.SET_NULL
    )
    fencing_token = fields.BigIntField(default=0)
    acquired_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    released_at = fields.DatetimeField(null=True)

    class Meta:
        table = "audit_lock"
        indexes = (Index(fields=("account_id", "expires_at"), name="audit_lock_account_expires"),)


class Audit(Entity):
    """One QA decision by an auditor. All audits of a submission are kept, in order."""

    submission = fields.ForeignKeyField(
        "models.Submission", related_name="audits", on_delete=fields.CASCADE
    )
    account = fields.ForeignKeyField(
        "models.Account", related_name="audits", on_delete=fields.CASCADE
    )
    auditor = fields.ForeignKeyField(
        "models.Member", related_name="audits", null=True, on_delete=fields.SET_NULL
    )
    outcome = fields.CharEnumField(AuditOutcome, max_length=16)
    comments = fields.TextField(default="")
    corrected_response = fields.JSONField(null=True)
    fencing_token = fields.BigIntField()

    class Meta:
        table = "audit"
        indexes = (
            Index(fields=("submission_id", "created_at"), name="audit_submission_created"),
            Index(fields=("account_id", "created_at"), name="audit_account_created"),
            Index(fields=("auditor_id", "created_at"), name="audit_auditor_created"),
        )
