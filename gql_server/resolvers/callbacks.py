"""Callback URLs and webhook endpoints, and the events sent to them: what was sent, each
attempt, redelivery, a test event, secret rotation."""

from __future__ import annotations

from typing import Any

import strawberry

from gql_server import models
from gql_server.resolvers.common import Info, filter_pk, mutate, page, query
from gql_server.resolvers.permissions import CanManage, IsOwner
from gql_server.schema.callbacks import (
    CallbackEvent,
    CallbackEventConnection,
    CallbackEventFilter,
    CallbackEventPayload,
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    EnableWebhookEndpointInput,
    RedeliverCallbackEventInput,
    RotateWebhookSecretInput,
    SetAccountCallbackUrlInput,
    SetAccountCallbackUrlPayload,
    UpdateWebhookEndpointInput,
    WebhookEndpoint,
    WebhookEndpointIdInput,
    WebhookEndpointPayload,
)
from gql_server.schema.relay import to_global_id
from gql_server.schema.types import Account
from gql_server.services import accounts, callbacks, webhook_endpoints
from gql_server.services.global_ids import pk_of


async def _event(event: models.OutboxEvent) -> dict[str, Any]:
    return {"event": CallbackEvent.from_model(event)}


async def _endpoint(endpoint: models.WebhookEndpoint) -> dict[str, Any]:
    return {"endpoint": WebhookEndpoint.from_model(endpoint)}


async def _account(account: models.Account) -> dict[str, Any]:
    return {"account": Account.from_model(account)}


@strawberry.type
class CallbackQueries:
    @strawberry.field(
        permission_classes=[CanManage],
        description="Callback events, newest first, with every delivery attempt.",
    )
    async def callback_events(
        self,
        info: Info,
        filter: CallbackEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CallbackEventConnection:
        given = filter or CallbackEventFilter()
        account_id = info.context.member.account_id

        async def action() -> Any:
            event_filter = callbacks.EventFilter(
                task_id=filter_pk(given.task_id, "Task", "task_id"),
                submission_id=filter_pk(given.submission_id, "Submission", "submission_id"),
                status=given.status,
            )
            return await callbacks.list_events(
                account_id, event_filter, page(first, after, last, before)
            )

        return CallbackEventConnection.from_page(await query(action), CallbackEvent.from_model)

    @strawberry.field(
        permission_classes=[CanManage],
        description="The account's callback URLs with their signing secrets.",
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        found = await callbacks.list_endpoints(info.context.member.account_id)
        return [WebhookEndpoint.from_model(e) for e in found]


@strawberry.type
class CallbackMutations:
    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Send an event again now (same webhook-id), retrying for another day.",
    )
    async def redeliver_callback_event(
        self, info: Info, input: RedeliverCallbackEventInput
    ) -> CallbackEventPayload:
        member = info.context.member
        return await mutate(
            CallbackEventPayload,
            lambda: callbacks.redeliver_event(member, pk_of(input.event_id, "CallbackEvent")),
            _event,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Enable a callback URL disabled by a 410 answer; new events go to it.",
    )
    async def enable_webhook_endpoint(
        self, info: Info, input: EnableWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        member = info.context.member
        return await mutate(
            WebhookEndpointPayload,
            lambda: callbacks.enable_endpoint(member, pk_of(input.endpoint_id, "WebhookEndpoint")),
            _endpoint,
        )

    @strawberry.mutation(permission_classes=[IsOwner])
    async def set_account_callback_url(
        self, info: Info, input: SetAccountCallbackUrlInput
    ) -> SetAccountCallbackUrlPayload:
        member = info.context.member
        return await mutate(
            SetAccountCallbackUrlPayload,
            lambda: accounts.set_callback_url(member, input.callback_url),
            _account,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Subscribe a URL to the account's events (all, or the types named). "
        "DUPLICATE if an endpoint of the account has the URL.",
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return await mutate(
            WebhookEndpointPayload,
            lambda: webhook_endpoints.create_endpoint(
                info.context.member, input.url, input.description, input.event_types
            ),
            _endpoint,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Change an endpoint's description, event types, or whether it is enabled.",
    )
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        return await mutate(
            WebhookEndpointPayload,
            lambda: webhook_endpoints.update_endpoint(
                info.context.member,
                pk_of(input.endpoint_id, "WebhookEndpoint"),
                description=input.description,
                event_types=input.event_types,
                all_event_types=input.all_event_types,
                enabled=input.enabled,
            ),
            _endpoint,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="End a subscription; its pending events are not sent. A URL a task or the "
        "account still names stays as their callback URL.",
    )
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> DeleteWebhookEndpointPayload:
        async def present(pk: int) -> dict[str, Any]:
            return {"deleted_endpoint_id": to_global_id("WebhookEndpoint", pk)}

        return await mutate(
            DeleteWebhookEndpointPayload,
            lambda: webhook_endpoints.delete_endpoint(
                info.context.member, pk_of(input.endpoint_id, "WebhookEndpoint")
            ),
            present,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="Send a `ping` event to the endpoint, signed, delivered and recorded like "
        "any other.",
    )
    async def send_test_webhook(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> CallbackEventPayload:
        return await mutate(
            CallbackEventPayload,
            lambda: webhook_endpoints.send_test(
                info.context.member, pk_of(input.endpoint_id, "WebhookEndpoint")
            ),
            _event,
        )

    @strawberry.mutation(
        permission_classes=[CanManage],
        description="A new signing secret; during the overlap deliveries carry a signature "
        "of each secret.",
    )
    async def rotate_webhook_secret(
        self, info: Info, input: RotateWebhookSecretInput
    ) -> WebhookEndpointPayload:
        return await mutate(
            WebhookEndpointPayload,
            lambda: webhook_endpoints.rotate_secret(
                info.context.member,
                pk_of(input.endpoint_id, "WebhookEndpoint"),
                input.overlap_seconds,
            ),
            _endpoint,
        )
