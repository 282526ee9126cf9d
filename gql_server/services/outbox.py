"""The transactional outbox: callback events written in the same transaction as their change.

A change and its event commit together or not at all, so a rolled-back mutation sends
nothing and a committed one is never lost; the delivery loop (`services/callbacks.py`)
sends what is here. Events go to the task's callback URL if it has one; else to the
account's callback URL and to every endpoint subscribed to the account's events that wants
their type. With no endpoint, nothing is written.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tortoise.connection import get_connection

from gql_server import clock
from gql_server.models import (
    Account,
    OutboxEvent,
    Submission,
    Task,
    Thread,
    ThreadMessage,
    WebhookEndpoint,
)
from gql_server.models.enums import AuditOutcome, Currency, OutboxStatus, TaskChange, ThreadChange
from gql_server.services.events import (
    DomainEvent,
    Handler,
    SubmissionAudited,
    SubmissionsReviewed,
    SubmissionSubmitted,
    TaskStatusChanged,
    ThreadChanged,
    UnitOfWork,
)
from gql_server.services.global_ids import global_id
from gql_server.services.money import format_amount

SUBMISSION_SUBMITTED = "submission.submitted"
SUBMISSION_REVIEWED = "submission.reviewed"
SUBMISSION_AUDITED = "submission.audited"
TASK_CLOSED = "task.closed"
QUESTION_ASKED = "question.asked"
# What an endpoint may subscribe to; a test event (PING) goes to the endpoint tested only.
EVENT_TYPES = (
    SUBMISSION_SUBMITTED,
    SUBMISSION_REVIEWED,
    SUBMISSION_AUDITED,
    TASK_CLOSED,
    QUESTION_ASKED,
)
PING = "ping"

# What the URL columns hold.
MAX_URL = 2048
# Retries stop a day after the event.
RETRY_WINDOW = timedelta(hours=24)

# The words of the audit seed's callback body.
CUSTOMER_REVIEW_STATUS = {
    AuditOutcome.ACCEPTED: "Accepted",
    AuditOutcome.FIXED: "Fixed",
    AuditOutcome.REJECTED: "Rejected",
}


def check_callback_url(url: str) -> str | None:
    """Why `url` cannot be a callback URL, or None. Addresses are checked again at send time."""
    if len(url) > MAX_URL:
        return f"is longer than {MAX_URL} characters."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL."
    if parts.username or parts.password:
        return "must not carry credentials."
    return None


def new_secret() -> str:
    """A Standard Webhooks signing secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _money(minor: int, currency: Currency) -> dict[str, str]:
    return {"amount": format_amount(minor, currency), "currency": currency.value}


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def submission_body(submission: Submission, task: Task, currency: Currency) -> dict[str, Any]:
    """The callback body of a submission: its state, the latest response and the audit trail."""
    return {
        "submission_id": global_id("Submission", submission.id),
        "task_id": global_id("Task", task.id),
        "worker_id": global_id("Worker", submission.worker_id),
        "state": submission.state.value,
        "response": submission.response,
        "prior_responses": list(submission.prior_responses),
        "customer_review_status": (
            CUSTOMER_REVIEW_STATUS[submission.audit_status] if submission.audit_status else None
        ),
        "customer_review_comments": list(submission.audit_comments),
        "feedback": submission.feedback,
        "reward": _money(submission.reward_minor, currency),
        "paid": _money(submission.paid_minor, currency),
        "submitted_at": _time(submission.submitted_at),
        "reviewed_at": _time(submission.reviewed_at),
        "last_audited_at": _time(submission.last_audited_at),
    }


def task_body(task: Task, currency: Currency) -> dict[str, Any]:
    return {
        "task_id": global_id("Task", task.id),
        "status": task.status.value,
        "close_reason": task.close_reason.value if task.close_reason else None,
        "budget": _money(task.budget_minor, currency),
        "committed": _money(task.committed_minor, currency),
        "spent": _money(task.spent_minor, currency),
        "remaining": _money(task.remaining_minor, currency),
    }


async def endpoint_for(account_id: int, url: str) -> WebhookEndpoint:
    """The account's endpoint for `url`, created with a new secret the first time.

    Insert-or-ignore then read, so two transactions creating it at once both end up with
    the same row instead of one failing on the unique constraint.
    """
    await WebhookEndpoint.bulk_create(
        [WebhookEndpoint(account_id=account_id, url=url, secret=new_secret())],
        ignore_conflicts=True,
    )
    return await WebhookEndpoint.get(account_id=account_id, url=url)


def _envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    # The shape Standard Webhooks recommends: what happened, when, and its data.
    return {"type": event_type, "timestamp": clock.now().isoformat(), "data": data}


@dataclass(frozen=True)
class Target:
    """An endpoint an event may go to: its id, whether it is disabled, and the event types
    it wants (None for all)."""

    id: int
    disabled: bool
    event_types: frozenset[str] | None = None

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


def _row(
    account: Account,
    endpoint: Target,
    event: tuple[str, int | None, int | None, dict[str, Any]],
    now: datetime,
) -> OutboxEvent:
    event_type, task_id, submission_id, data = event
    return OutboxEvent(
        account_id=account.id,
        endpoint_id=endpoint.id,
        task_id=task_id,
        submission_id=submission_id,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=event_type,
        payload=_envelope(event_type, data),
        status=OutboxStatus.DISABLED if endpoint.disabled else OutboxStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
        created_at=now,
    )


async def _write(
    account: Account,
    endpoints: Sequence[Target],
    events: list[tuple[str, int | None, int | None, dict[str, Any]]],
) -> None:
    """One outbox row per event and endpoint that wants it."""
    now = clock.now()
    await OutboxEvent.bulk_create(
        [
            _row(account, endpoint, event, now)
            for endpoint in endpoints
            for event in events
            if endpoint.wants(event[0])
        ]
    )


def _types(value: Any) -> frozenset[str] | None:
    listed = json.loads(value) if isinstance(value, str) else value
    return None if listed is None else frozenset(listed)


async def targets_of(task_id: int) -> list[Target]:
    """Where the events of a task go, in one query: the task's callback URL if it has one;
    else the account's callback URL and every endpoint subscribed to the account's events."""
    connection = get_connection("default")
    mark = "$1" if connection.capabilities.dialect == "postgres" else "?"
    rows = await connection.execute_query_dict(
        'SELECT e."id", e."url", e."disabled_at", e."event_types", t."account_id", '
        't."callback_url" AS "task_url", a."callback_url" AS "account_url" '
        'FROM "task" t JOIN "account" a ON a."id" = t."account_id" '
        'LEFT JOIN "webhook_endpoint" e ON e."account_id" = t."account_id" '
        'AND (e."subscribed" OR e."url" = COALESCE(t."callback_url", a."callback_url")) '
        f'WHERE t."id" = {mark} ORDER BY e."id"',
        [task_id],
    )
    if not rows:
        return []
    named = rows[0]["task_url"] or rows[0]["account_url"]
    found, named_found = [], False
    for row in rows:
        if row["id"] is None:
            continue
        disabled = row["disabled_at"] is not None
        if row["url"] == named:
            named_found = True
            found.append(Target(int(row["id"]), disabled))
        elif not row["task_url"]:
            found.append(Target(int(row["id"]), disabled, _types(row["event_types"])))
    if named and not named_found:
        # Every URL set gets its endpoint then; one missing is made now, not skipped.
        endpoint = await endpoint_for(int(rows[0]["account_id"]), named)
        found.insert(0, Target(endpoint.id, endpoint.disabled_at is not None))
    return found


async def enqueue_submission_events(
    event_type: str, task_id: int, submission_ids: Iterable[int]
) -> None:
    """Write one event per submission of the task and endpoint that wants it; call inside
    the transaction that changed them. Without an endpoint for them nothing is read or
    written beyond finding that out (one query)."""
    ids = list(submission_ids)
    if not ids:
        return
    targets = [t for t in await targets_of(task_id) if t.wants(event_type)]
    if not targets:
        return
    task = await Task.get(id=task_id)
    account = await Account.get(id=task.account_id)
    rows = await Submission.filter(id__in=ids, task_id=task_id).order_by("id")
    await _write(
        account,
        targets,
        [
            (
                event_type,
                task.id,
                submission.id,
                submission_body(submission, task, account.currency),
            )
            for submission in rows
        ],
    )


async def enqueue_task_event(event_type: str, task_id: int) -> None:
    """Write one event about a task; call inside the transaction that changed it."""
    targets = [t for t in await targets_of(task_id) if t.wants(event_type)]
    if targets:
        task = await Task.get(id=task_id)
        account = await Account.get(id=task.account_id)
        body = task_body(task, account.currency)
        await _write(account, targets, [(event_type, task.id, None, body)])


async def enqueue_question_event(task_id: int, thread_id: int) -> None:
    """Write a `question.asked` event: the thread, its task and worker, and the question."""
    targets = [t for t in await targets_of(task_id) if t.wants(QUESTION_ASKED)]
    if not targets:
        return
    thread = await Thread.get(id=thread_id)
    question = await ThreadMessage.filter(thread_id=thread_id).order_by("created_at", "id").first()
    account = await Account.get(id=thread.account_id)
    body = {
        "thread_id": global_id("Thread", thread.id),
        "task_id": global_id("Task", task_id),
        "submission_id": global_id("Submission", thread.submission_id)
        if thread.submission_id
        else None,
        "worker_id": global_id("Worker", thread.worker_id),
        "question": question.body if question else "",
        "asked_at": _time(thread.asked_at),
        "due_at": _time(thread.due_at),
    }
    await _write(account, targets, [(QUESTION_ASKED, task_id, thread.submission_id, body)])


async def enqueue_ping(endpoint: WebhookEndpoint) -> OutboxEvent:
    """A test event to one endpoint, whatever the event types it wants."""
    account = await Account.get(id=endpoint.account_id)
    target = Target(endpoint.id, endpoint.disabled_at is not None)
    data = {"endpoint_id": global_id("WebhookEndpoint", endpoint.id)}
    ping = _row(account, target, (PING, None, None, data), clock.now())
    await ping.save()
    return ping


class CallbackOutbox(Handler):
    """Writes the callback events of domain events, in their transaction.

    It comes before the rules among the handlers, so that a callback describes its
    submission as the event left it, before a rule acts on it (spam declined right after it
    was submitted is sent as submitted, then as reviewed).
    """

    async def handle(self, work: UnitOfWork, event: DomainEvent) -> None:
        match event:
            case SubmissionSubmitted(task_id=task_id, submission_id=submission_id):
                await enqueue_submission_events(SUBMISSION_SUBMITTED, task_id, [submission_id])
            case SubmissionsReviewed(task_id=task_id, submissions=reviewed):
                ids = [item.submission_id for item in reviewed]
                await enqueue_submission_events(SUBMISSION_REVIEWED, task_id, ids)
            case SubmissionAudited(task_id=task_id, submission_id=submission_id):
                await enqueue_submission_events(SUBMISSION_AUDITED, task_id, [submission_id])
            case TaskStatusChanged(task_id=task_id, change=TaskChange.CLOSED):
                await enqueue_task_event(TASK_CLOSED, task_id)
            case ThreadChanged(
                task_id=int(task_id), thread_id=thread_id, change=ThreadChange.ASKED
            ):
                await enqueue_question_event(task_id, thread_id)
