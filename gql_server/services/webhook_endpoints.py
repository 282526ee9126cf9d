"""Webhook endpoints an account subscribes to its events: several per account, each with a
URL, a description, the event types it wants (all when none are named) and whether it is
enabled; a test event on demand; and secret rotation with an overlap.

Invariants:
- One endpoint per URL and account. A task's (or the account's) callback URL is an
  endpoint too, made when the URL is set; subscribing such a URL makes that endpoint
  receive the account's events as well, and deleting a subscription to a URL that a task
  or the account still names only ends the subscription.
- During a rotation's overlap every delivery is signed with both secrets (Standard
  Webhooks allows several signatures), so a receiver that knows either verifies; after
  it, only the new secret signs.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import Account, OutboxEvent, Task, WebhookEndpoint
from gql_server.models.enums import AdminAction, OutboxStatus
from gql_server.services import activity, outbox
from gql_server.services.errors import ErrorCode, FieldError, UseCaseError
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

MAX_DESCRIPTION = 500
MAX_OVERLAP = timedelta(days=7)
DEFAULT_OVERLAP = timedelta(hours=24)
DISABLED_BY_MEMBER = "Disabled by a member."


def _url(url: str) -> str:
    text = url.strip()
    problem = outbox.check_callback_url(text)
    if problem:
        raise UseCaseError.single(ErrorCode.VALIDATION, f"'url' {problem}", "url")
    return text


def _description(description: str) -> str:
    text = description.strip()
    if len(text) > MAX_DESCRIPTION:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            f"'description' is longer than {MAX_DESCRIPTION} characters.",
            "description",
        )
    return text


def _event_types(event_types: list[str] | None) -> list[str] | None:
    if event_types is None:
        return None
    errors = [
        FieldError(
            ErrorCode.VALIDATION,
            f"Unknown event type {name!r}; known: {', '.join(outbox.EVENT_TYPES)}.",
            ("event_types", index),
        )
        for index, name in enumerate(event_types)
        if name not in outbox.EVENT_TYPES
    ]
    if errors:
        raise UseCaseError(errors)
    if not event_types:
        raise UseCaseError.single(
            ErrorCode.VALIDATION,
            "Name at least one event type, or leave 'eventTypes' out for all of them.",
            "event_types",
        )
    return sorted(set(event_types))


async def _endpoint(principal: MemberPrincipal, endpoint_id: int | None) -> WebhookEndpoint:
    return await owned(
        WebhookEndpoint, principal.account_id, endpoint_id, "Webhook endpoint", "endpoint_id"
    )


async def create_endpoint(
    principal: MemberPrincipal,
    url: str,
    description: str = "",
    event_types: list[str] | None = None,
) -> WebhookEndpoint:
    """Subscribe a URL to the account's events (those of `event_types`, or all)."""
    clean, text, types = _url(url), _description(description), _event_types(event_types)
    async with in_transaction():
        endpoint = await outbox.endpoint_for(principal.account_id, clean)
        if endpoint.subscribed:
            raise UseCaseError.single(
                ErrorCode.DUPLICATE, "An endpoint of this account has this URL.", "url"
            )
        await WebhookEndpoint.filter(id=endpoint.id).update(
            subscribed=True, description=text, event_types=types
        )
        await _logged(principal, AdminAction.ENDPOINT_CREATED, endpoint, event_types=types)
    return await WebhookEndpoint.get(id=endpoint.id)


async def _logged(
    principal: MemberPrincipal, action: AdminAction, endpoint: WebhookEndpoint, **details: object
) -> None:
    await activity.record(
        principal, action, "WebhookEndpoint", endpoint.id, url=endpoint.url, **details
    )


async def update_endpoint(
    principal: MemberPrincipal,
    endpoint_id: int | None,
    *,
    description: str | None = None,
    event_types: list[str] | None = None,
    all_event_types: bool = False,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given: the description, the event types (or all of them again), and
    whether it is enabled. Its URL stays: a new URL is a new endpoint."""
    endpoint = await _endpoint(principal, endpoint_id)
    changes: dict[str, object] = {}
    if description is not None:
        changes["description"] = _description(description)
    if all_event_types:
        changes["event_types"] = None
    elif event_types is not None:
        changes["event_types"] = _event_types(event_types)
    if enabled is True:
        changes.update(disabled_at=None, disabled_reason=None)
    elif enabled is False and endpoint.disabled_at is None:
        changes.update(disabled_at=clock.now(), disabled_reason=DISABLED_BY_MEMBER)
    if changes:
        async with in_transaction():
            await WebhookEndpoint.filter(id=endpoint.id).update(**changes)
            logged = {k: v for k, v in changes.items() if k in ("description", "event_types")}
            if "disabled_at" in changes:
                logged["enabled"] = changes["disabled_at"] is None
            await _logged(principal, AdminAction.ENDPOINT_UPDATED, endpoint, **logged)
    return await WebhookEndpoint.get(id=endpoint.id)


async def delete_endpoint(principal: MemberPrincipal, endpoint_id: int | None) -> int:
    """End a subscription; the endpoint goes unless a task or the account still names its
    URL (then it only stops receiving the account's other events). Its pending events
    are not sent. Returns the endpoint's id."""
    endpoint = await _endpoint(principal, endpoint_id)
    async with in_transaction():
        named = await Task.exists(account_id=endpoint.account_id, callback_url=endpoint.url)
        named = named or await Account.exists(id=endpoint.account_id, callback_url=endpoint.url)
        if named:
            await WebhookEndpoint.filter(id=endpoint.id).update(subscribed=False, event_types=None)
        else:
            await OutboxEvent.filter(endpoint_id=endpoint.id, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.DISABLED
            )
            await endpoint.delete()
        await _logged(principal, AdminAction.ENDPOINT_DELETED, endpoint)
    return endpoint.id


async def rotate_secret(
    principal: MemberPrincipal, endpoint_id: int | None, overlap_seconds: int | None = None
) -> WebhookEndpoint:
    """A new signing secret; the old one also signs until the overlap ends."""
    overlap = DEFAULT_OVERLAP if overlap_seconds is None else None
    if overlap_seconds is not None:
        if not 0 <= overlap_seconds <= MAX_OVERLAP.total_seconds():
            raise UseCaseError.single(
                ErrorCode.VALIDATION,
                "The overlap is between 0 seconds and 7 days (604800).",
                "overlap_seconds",
            )
        overlap = timedelta(seconds=overlap_seconds)
    assert overlap is not None
    endpoint = await _endpoint(principal, endpoint_id)
    now = clock.now()
    running = endpoint.previous_secret_until is not None and endpoint.previous_secret_until > now
    if overlap and running:
        # A second overlap would end the first one's early; replacing a leaked secret at
        # once (overlap 0) is always possible.
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            "The last rotation's overlap is still running; wait for its end or rotate with "
            "overlapSeconds: 0.",
            "overlap_seconds",
        )
    until = now + overlap if overlap else None
    async with in_transaction():
        await WebhookEndpoint.filter(id=endpoint.id).update(
            secret=outbox.new_secret(),
            previous_secret=endpoint.secret if overlap else None,
            previous_secret_until=until,
        )
        await _logged(
            principal, AdminAction.ENDPOINT_SECRET_ROTATED, endpoint, old_secret_until=until
        )
    return await WebhookEndpoint.get(id=endpoint.id)


async def send_test(principal: MemberPrincipal, endpoint_id: int | None) -> OutboxEvent:
    """A `ping` event to the endpoint, delivered and recorded like any other."""
    endpoint = await _endpoint(principal, endpoint_id)
    async with in_transaction():
        return await outbox.enqueue_ping(endpoint)
