"""Delivery of callback events from the outbox: signed, retried, recorded.

A sender claims due events for a while (`FOR UPDATE SKIP LOCKED` on PostgreSQL, then a
conditional update on both databases), sends each outside any transaction, and settles
it only if its claim still holds, so several worker processes never send one event at
the same time, and a sender that dies leaves its claims to lapse for another to take.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from gql_server import clock
from gql_server.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from gql_server.models.enums import OutboxStatus
from gql_server.services.errors import ErrorCode, UseCaseError
from gql_server.services.pagination import Page, PageRequest, SortKey, paginate
from gql_server.services.principals import MemberPrincipal
from gql_server.services.tenancy import owned

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(hours=1)
# Longer than the longest attempt, so a live sender never loses its claim mid-send.
CLAIM_FOR = timedelta(minutes=2)


def retry_delay(failures: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: after the n-th failure wait between half and all of
    5 s x 2^(n-1), at most an hour, so receivers that failed together are not retried together."""
    ceiling = min(LONGEST_RETRY, FIRST_RETRY * 2 ** min(failures - 1, 20))
    return ceiling * rng.uniform(0.5, 1.0)


def encode_body(payload: dict[str, object]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    secrets: Sequence[str], message_id: str, body: str, sent_at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers, signed with each of `secrets` (space-separated, as the
    scheme allows, so that a receiver knowing any one of them verifies); the timestamp is
    the real sending time, which the receiver compares with its own clock."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, sent_at, body) for secret in secrets
        ),
    }


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the one before a rotation while the overlap lasts."""
    previous = endpoint.previous_secret
    until = endpoint.previous_secret_until
    overlapping = previous is not None and until is not None and until > now
    return [endpoint.secret, previous] if overlapping and previous else [endpoint.secret]


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class CallbackSender:
    """Sends due outbox events; one per process, run by the background loop."""

    def __init__(
        self,
        client_factory: Callable[[], httpx.AsyncClient],
        *,
        batch_size: int = 20,
        rng: random.Random | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._batch_size = batch_size
        self._rng = rng or random.Random()

    async def deliver_due(self) -> int:
        """Claim due events, send them, settle them; return how many were attempted."""
        token = uuid.uuid4().hex
        claimed = await self._claim(token)
        if not claimed:
            return 0
        async with self._client_factory() as client:
            for event_id in claimed:
                try:
                    await self._attempt(client, event_id, token)
                except Exception:
                    # The claim lapses and another round retries it.
                    logger.exception("callback event %s could not be attempted", event_id)
        return len(claimed)

    async def _claim(self, token: str) -> list[int]:
        now = clock.now()
        due = Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) & (
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
        )
        claimed: list[int] = []
        async with in_transaction():
            candidates = (
                await OutboxEvent.filter(due)
                .order_by("next_attempt_at", "id")
                .limit(self._batch_size)
                .select_for_update(skip_locked=True)
            )
            for event in candidates:
                # Conditional, so that on SQLite (no row locks) two senders cannot both win.
                if await OutboxEvent.filter(Q(id=event.id) & due).update(
                    claimed_until=now + CLAIM_FOR, claim_token=token
                ):
                    claimed.append(event.id)
        return claimed

    async def _attempt(self, client: httpx.AsyncClient, event_id: int, token: str) -> None:
        event = await OutboxEvent.get(id=event_id)
        endpoint = (
            await WebhookEndpoint.get_or_none(id=event.endpoint_id) if event.endpoint_id else None
        )
        if endpoint is None or endpoint.disabled_at is not None:
            await self._settle(event, token, status=OutboxStatus.DISABLED)
            return
        outcome = await self._send(client, endpoint, event)
        attempt = event.attempts + 1
        now = clock.now()
        async with in_transaction():
            await WebhookDelivery.create(
                event_id=event.id,
                attempt=attempt,
                url=endpoint.url,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
                succeeded=outcome.succeeded,
                created_at=now,
            )
            if outcome.succeeded:
                await self._settle(
                    event, token, status=OutboxStatus.DELIVERED, attempts=attempt, delivered_at=now
                )
            elif outcome.status_code == 410:
                # Gone: the receiver asks not to be called again (Standard Webhooks).
                await WebhookEndpoint.filter(id=endpoint.id, disabled_at__isnull=True).update(
                    disabled_at=now, disabled_reason="The receiver answered 410 Gone."
                )
                await self._settle(event, token, status=OutboxStatus.DISABLED, attempts=attempt)
                await OutboxEvent.filter(
                    endpoint_id=endpoint.id, status=OutboxStatus.PENDING
                ).update(status=OutboxStatus.DISABLED)
            else:
                retry_at = now + retry_delay(attempt, self._rng)
                await self._settle(
                    event,
                    token,
                    status=OutboxStatus.FAILED if retry_at > event.give_up_at else None,
                    attempts=attempt,
                    next_attempt_at=retry_at,
                )

    async def _send(
        self, client: httpx.AsyncClient, endpoint: WebhookEndpoint, event: OutboxEvent
    ) -> _Outcome:
        if urlsplit(endpoint.url).scheme not in ("http", "https"):
            return _Outcome(None, "refused: callbacks go only to http(s) URLs", 0)
        body = encode_body(event.payload)
        secrets = signing_secrets(endpoint, clock.now())
        headers = signed_headers(secrets, event.message_id, body, datetime.now(UTC))
        started = time.perf_counter()
        try:
            response = await client.post(endpoint.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            latency = round((time.perf_counter() - started) * 1000)
            return _Outcome(None, f"{type(error).__name__}: {error}"[:1000], latency)
        latency = round((time.perf_counter() - started) * 1000)
        if response.is_redirect:
            where = response.headers.get("location", "")
            return _Outcome(
                response.status_code, f"redirect to {where[:500]} not followed", latency
            )
        if not response.is_success:
            return _Outcome(response.status_code, f"HTTP {response.status_code}", latency)
        return _Outcome(response.status_code, None, latency)

    async def _settle(
        self,
        event: OutboxEvent,
        token: str,
        *,
        status: OutboxStatus | None,
        **changes: object,
    ) -> None:
        """Record the result only while this sender's claim holds."""
        values: dict[str, object] = {"claimed_until": None, "claim_token": None, **changes}
        if status is not None:
            values["status"] = status
        await OutboxEvent.filter(
            id=event.id, claim_token=token, status=OutboxStatus.PENDING
        ).update(**values)


async def redeliver_event(principal: MemberPrincipal, event_id: int | None) -> OutboxEvent:
    """Send an event again as soon as possible, with the same webhook-id, for another day."""
    event = await owned(OutboxEvent, principal.account_id, event_id, "Callback event", "event_id")
    endpoint = (
        await WebhookEndpoint.get_or_none(id=event.endpoint_id) if event.endpoint_id else None
    )
    if endpoint is None or endpoint.disabled_at is not None:
        raise UseCaseError.single(
            ErrorCode.INVALID_STATE,
            "The callback URL is disabled; enable it before asking for redelivery.",
            "event_id",
        )
    now = clock.now()
    await OutboxEvent.filter(id=event.id).update(
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + timedelta(hours=24),
        claimed_until=None,
        claim_token=None,
    )
    return await OutboxEvent.get(id=event.id)


async def enable_endpoint(principal: MemberPrincipal, endpoint_id: int | None) -> WebhookEndpoint:
    endpoint = await owned(
        WebhookEndpoint, principal.account_id, endpoint_id, "Webhook endpoint", "endpoint_id"
    )
    await WebhookEndpoint.filter(id=endpoint.id).update(disabled_at=None, disabled_reason=None)
    return await WebhookEndpoint.get(id=endpoint.id)


@dataclass(frozen=True)
class EventFilter:
    task_id: int | None = None
    submission_id: int | None = None
    status: OutboxStatus | None = None


async def list_events(
    account_id: int, filter: EventFilter, request: PageRequest
) -> Page[OutboxEvent]:
    """The account's callback events, newest first."""
    query = OutboxEvent.filter(account_id=account_id)
    if filter.task_id is not None:
        query = query.filter(task_id=filter.task_id)
    if filter.submission_id is not None:
        query = query.filter(submission_id=filter.submission_id)
    if filter.status is not None:
        query = query.filter(status=filter.status)
    return await paginate(query, SortKey("created_at", descending=True), request)


async def deliveries_of(event_ids: list[int]) -> dict[int, list[WebhookDelivery]]:
    """Every attempt of each event, in order (for a DataLoader)."""
    found: dict[int, list[WebhookDelivery]] = {pk: [] for pk in event_ids}
    for delivery in await WebhookDelivery.filter(event_id__in=event_ids).order_by("attempt", "id"):
        found[delivery.event_id].append(delivery)
    return found


async def list_endpoints(account_id: int) -> list[WebhookEndpoint]:
    return await WebhookEndpoint.filter(account_id=account_id).order_by("id")
