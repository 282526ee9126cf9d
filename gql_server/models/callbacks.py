"""Signed callbacks: endpoints, the transactional outbox, and every delivery attempt."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index

from gql_server.models.base import Entity
from gql_server.models.enums import OutboxStatus


class WebhookEndpoint(Entity):
    """A callback URL of an account (or of one of its tasks), with its signing secret."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=2048)
    # "whsec_..." per the Standard Webhooks scheme.
    secret = fields.CharField(max_length=128)
    # The secret before the last rotation, also signing deliveries until the overlap ends.
    previous_secret = fields.CharField(max_length=128, null=True)
    previous_secret_until = fields.DatetimeField(null=True)
    disabled_at = fields.DatetimeField(null=True)
    disabled_reason = fields.TextField(null=True)
    # Receives the account's events (made with createWebhookEndpoint), not only those of
    # the tasks or the account that name its URL as their callback URL.
    subscribed = fields.BooleanField(default=False)
    # The event types a subscribed endpoint wants; null for all of them.
    event_types = fields.JSONField(null=True)
    description = fields.CharField(max_length=500, default="")

    class Meta:
        table = "webhook_endpoint"
        unique_together = (("account", "url"),)


class OutboxEvent(Entity):
    """An event written in the same transaction as the change it reports."""

    account = fields.ForeignKeyField(
        "models.Account", related_name="outbox_events", on_delete=fields.CASCADE
    )
    endpoint = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    task = fields.ForeignKeyField(
        "models.Task", related_name="outbox_events", null=True, on_delete=fields.SET_NULL
    )
    submission = fields.ForeignKeyField(
        "models.Submission", related_name="outbox_events", null=True, on_delete=fields.SET_NULL
    )
    # The Standard Webhooks message id: the same for every attempt of this event.
    message_id = fields.CharField(max_length=64, unique=True)
    event_type = fields.CharField(max_length=64)
    payload = fields.JSONField()
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    # Retries stop after this moment (a day after the event).
    give_up_at = fields.DatetimeField()
    # A sender holds the event until then; another sender may take it after.
    claimed_until = fields.DatetimeField(null=True)
    # Which claim holds it: a sender whose claim lapsed must not settle the event.
    claim_token = fields.CharField(max_length=32, null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_event"
        indexes = (
            Index(fields=("status", "next_attempt_at"), name="outbox_due"),
            Index(fields=("account_id", "created_at"), name="outbox_account_created"),
        )


class WebhookDelivery(Entity):
    """One attempt to deliver an outbox event."""

    event = fields.ForeignKeyField(
        "models.OutboxEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    url = fields.CharField(max_length=2048)
    status_code = fields.IntField(null=True)
    latency_ms = fields.IntField(null=True)
    error = fields.TextField(null=True)
    succeeded = fields.BooleanField(default=False)

    class Meta:
        table = "webhook_delivery"
        indexes = (Index(fields=("event_id", "attempt"), name="webhook_delivery_event_attempt"),)
