"""Requester accounts, their members, and API keys."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

from gql_server.models.base import Entity
from gql_server.models.enums import AdminAction, Currency, MemberRole


class Account(Entity):
    """A requester organisation: owns projects, tasks, skills, rules, webhooks and money."""

    name = fields.CharField(max_length=200)
    currency = fields.CharEnumField(Currency, max_length=3, default=Currency.USD)
    # IANA zone in which daily submission limits and day-based reports are counted.
    timezone = fields.CharField(max_length=64, default="UTC")
    # Mirror of the ACCOUNT_BALANCE ledger bucket, kept by conditional updates.
    balance_minor = fields.BigIntField(default=0)
    callback_url = fields.CharField(max_length=2048, null=True)
    # A sandbox: simulated workers only, funded freely, its keys prefixed `cwk_test_`; its
    # tasks are never shown to real workers, nor live tasks to simulated ones.
    sandbox = fields.BooleanField(default=False)
    # A worker's question is due this long after it was asked (threads).
    response_target_seconds = fields.IntField(default=86_400)
    # The live account a sandbox was made as the twin of.
    # One per live account (unique), so two requests for a twin cannot make two.
    twin_of = fields.OneToOneField(
        "models.Account", related_name="sandbox_twin", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "account"
        constraints = (
            CheckConstraint(check="balance_minor >= 0", name="account_balance_not_negative"),
        )


class Member(Entity):
    """A person of an account, acting with one role."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="members", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=320)
    role = fields.CharEnumField(MemberRole, max_length=16)
    # When an owner removed the member: kept for what it did, its keys revoked.
    removed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "member"
        unique_together = (("account", "email"),)


class ApiKey(Entity):
    """A bearer credential of a member or a worker, stored as its SHA-256 only."""

    key_hash = fields.CharField(max_length=64, unique=True)
    # The first characters of the key, shown in listings so a person can tell keys apart.
    prefix = fields.CharField(max_length=16)
    name = fields.CharField(max_length=200, default="")
    member = fields.ForeignKeyField(
        "models.Member", related_name="api_keys", null=True, on_delete=fields.CASCADE
    )
    worker = fields.ForeignKeyField(
        "models.Worker", related_name="api_keys", null=True, on_delete=fields.CASCADE
    )
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # Unusable from then on (a rotated key's grace period ends here too).
    expires_at = fields.DatetimeField(null=True)
    # Reads with the member's role; every mutation is refused.
    read_only = fields.BooleanField(default=False)

    class Meta:
        table = "api_key"
        constraints = (
            CheckConstraint(
                check="(member_id IS NULL) <> (worker_id IS NULL)",
                name="api_key_has_one_owner",
            ),
        )


class OperatorKey(Entity):
    """A credential of the instance's operator (the partner application workers sign up
    through): made only on the command line, never by an account; it manages workers and
    reads no account's data. Stored as its SHA-256 only."""

    key_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16)
    name = fields.CharField(max_length=200, default="")
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "operator_key"


class AdminActivity(Entity):
    """One administrative change of an account, for its owners' activity log: who did what
    to which member, key, endpoint or restriction, when, and with what values."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="admin_activity", on_delete=fields.CASCADE
    )
    actor = fields.ForeignKeyField(
        "models.Member", related_name="admin_activity", null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharEnumField(AdminAction, max_length=32)
    # The GraphQL type name and id of what changed (a Member, an ApiKey, ...).
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.BigIntField()
    details = fields.JSONField()

    class Meta:
        table = "admin_activity"
        indexes = (Index(fields=("account_id", "created_at"), name="admin_activity_account"),)
