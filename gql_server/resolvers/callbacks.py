"""Callback URLs and the events sent to them: what was sent, each attempt, redelivery."""

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
    EnableWebhookEndpointInput,
    RedeliverCallbackEventInput,
    SetAccountCallbackUrlInput,
    SetAccountCallbackUrlPayload,
    WebhookEndpoint,
    WebhookEndpointPayload,
)
from gql_server.schema.types import Account
from gql_server.services import accounts, callbacks
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
