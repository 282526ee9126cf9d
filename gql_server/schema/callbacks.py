"""Callback URLs, the events sent to them and every delivery attempt."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql_server import models
from gql_server.schema.enums import CallbackStatus
from gql_server.schema.errors import UserError
from gql_server.schema.relay import Connection, Node, to_global_id
from gql_server.schema.types import Account, Info
from gql_server.services.callbacks import encode_body


@strawberry.type(
    description="A callback URL of the account or of its tasks, with the secret its events "
    "are signed with (Standard Webhooks)."
)
class WebhookEndpoint(Node):
    url: str
    signing_secret: str = strawberry.field(
        description="Verify `webhook-signature` with it, e.g. with the standardwebhooks package."
    )
    previous_secret_until: datetime | None = strawberry.field(
        description="Until then deliveries are also signed with the secret before the last "
        "rotation."
    )
    description: str
    subscribed: bool = strawberry.field(
        description="Receives the account's events (createWebhookEndpoint), not only those "
        "of the tasks or the account naming this URL as their callback URL."
    )
    event_types: list[str] | None = strawberry.field(
        description="The event types a subscribed endpoint receives; null for all of them."
    )
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, endpoint: models.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=to_global_id("WebhookEndpoint", endpoint.id),
            url=endpoint.url,
            signing_secret=endpoint.secret,
            previous_secret_until=endpoint.previous_secret_until,
            description=endpoint.description,
            subscribed=endpoint.subscribed,
            event_types=list(endpoint.event_types) if endpoint.event_types is not None else None,
            disabled_at=endpoint.disabled_at,
            disabled_reason=endpoint.disabled_reason,
            created_at=endpoint.created_at,
        )


@strawberry.type(description="One attempt to deliver a callback event.")
class CallbackDelivery:
    attempt: int
    url: str
    status_code: int | None = strawberry.field(description="Null when no answer came.")
    latency_ms: int | None
    error: str | None
    succeeded: bool
    created_at: datetime

    @classmethod
    def from_model(cls, delivery: models.WebhookDelivery) -> CallbackDelivery:
        return cls(
            attempt=delivery.attempt,
            url=delivery.url,
            status_code=delivery.status_code,
            latency_ms=delivery.latency_ms,
            error=delivery.error,
            succeeded=delivery.succeeded,
            created_at=delivery.created_at,
        )


@strawberry.type(description="An event for a callback URL, written with the change it reports.")
class CallbackEvent(Node):
    type: str = strawberry.field(
        description="submission.submitted, submission.reviewed, submission.audited, "
        "task.closed or question.asked."
    )
    webhook_id: str = strawberry.field(description="The `webhook-id` of every attempt.")
    status: CallbackStatus
    attempts: int
    body: str = strawberry.field(description="The JSON body, exactly as signed and sent.")
    created_at: datetime
    next_attempt_at: datetime
    give_up_at: datetime
    delivered_at: datetime | None
    pk: strawberry.Private[int]

    @strawberry.field(description="Every attempt, in order.")
    async def deliveries(self, info: Info) -> list[CallbackDelivery]:
        return [
            CallbackDelivery.from_model(d)
            for d in await info.context.loaders.deliveries.load(self.pk)
        ]

    @classmethod
    def from_model(cls, event: models.OutboxEvent) -> CallbackEvent:
        return cls(
            id=to_global_id("CallbackEvent", event.id),
            type=event.event_type,
            webhook_id=event.message_id,
            status=event.status,
            attempts=event.attempts,
            body=encode_body(event.payload),
            created_at=event.created_at,
            next_attempt_at=event.next_attempt_at,
            give_up_at=event.give_up_at,
            delivered_at=event.delivered_at,
            pk=event.id,
        )


CallbackEventConnection = Connection[CallbackEvent]


@strawberry.input
class CallbackEventFilter:
    task_id: strawberry.ID | None = None
    submission_id: strawberry.ID | None = None
    status: CallbackStatus | None = None


@strawberry.input
class RedeliverCallbackEventInput:
    event_id: strawberry.ID


@strawberry.input
class EnableWebhookEndpointInput:
    endpoint_id: strawberry.ID


@strawberry.input
class SetAccountCallbackUrlInput:
    callback_url: str | None = strawberry.field(
        description="For tasks without their own; null removes it."
    )


@strawberry.type
class CallbackEventPayload:
    event: CallbackEvent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetAccountCallbackUrlPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    description: str = ""
    event_types: list[str] | None = strawberry.field(
        default=None,
        description="Of submission.submitted, submission.reviewed, submission.audited, "
        "task.closed; all of them when absent.",
    )


@strawberry.input(description="What is given changes; the URL stays (a new URL is a new endpoint).")
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID
    description: str | None = None
    event_types: list[str] | None = None
    all_event_types: bool = strawberry.field(
        default=False, description="Receive every event type again."
    )
    enabled: bool | None = None


@strawberry.input
class WebhookEndpointIdInput:
    endpoint_id: strawberry.ID


@strawberry.input
class RotateWebhookSecretInput:
    endpoint_id: strawberry.ID
    overlap_seconds: int | None = strawberry.field(
        default=None,
        description="How long the old secret also signs, at most 7 days (604800); a day when "
        "absent, 0 to stop at once.",
    )


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_endpoint_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
