"""The double-entry money ledger and the idempotency records of money-moving mutations."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

from gql_server.models.base import Entity
from gql_server.models.enums import ActorKind, IdempotencyStatus, LedgerBucket, LedgerReason


class LedgerEntry(Entity):
    """One immutable movement of `amount_minor` from one bucket to another.

    Task buckets belong to `task`; ACCOUNT_BALANCE belongs to `account`; WORKER payouts
    name the worker. Figures are sums over these rows.
    """

    account = fields.ForeignKeyField(
        "models.Account", related_name="ledger_entries", on_delete=fields.CASCADE
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="ledger_entries", null=True, on_delete=fields.CASCADE
    )
    submission = fields.ForeignKeyField(
        "models.Submission", related_name="ledger_entries", null=True, on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )
    from_bucket = fields.CharEnumField(LedgerBucket, max_length=32)
    to_bucket = fields.CharEnumField(LedgerBucket, max_length=32)
    amount_minor = fields.BigIntField()
    reason = fields.CharEnumField(LedgerReason, max_length=32)
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    actor_member = fields.ForeignKeyField(
        "models.Member", related_name="ledger_entries", null=True, on_delete=fields.SET_NULL
    )
    idempotency_key = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "ledger_entry"
        indexes = (
            Index(fields=("task_id", "id"), name="ledger_task_id"),
            Index(fields=("account_id", "id"), name="ledger_account_id"),
            # The analytics' money: what moved in a period, read from the index alone.
            Index(
                fields=(
                    *("account_id", "created_at", "task_id", "to_bucket", "reason"),
                    *("amount_minor", "worker_id"),
                ),
                name="ledger_account_created",
            ),
            Index(fields=("worker_id", "task_id", "created_at"), name="ledger_worker_task_created"),
        )
        constraints = (
            CheckConstraint(check="amount_minor > 0", name="ledger_amount_positive"),
            CheckConstraint(check="from_bucket <> to_bucket", name="ledger_buckets_differ"),
        )


class IdempotencyRecord(Entity):
    """The first result of a money-moving mutation, replayed for a retry with the same key."""

    # Whose key this is: "member:<id>" or "worker:<id>"; keys are scoped to the caller.
    scope = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    operation = fields.CharField(max_length=64)
    request_hash = fields.CharField(max_length=64)
    status = fields.CharEnumField(
        IdempotencyStatus, max_length=16, default=IdempotencyStatus.IN_PROGRESS
    )
    response = fields.JSONField(null=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "idempotency_record"
        unique_together = (("scope", "key"),)
