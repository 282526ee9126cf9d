"""The transactional outbox: callback events written in the same transaction as their change.

A change and its event commit together or not at all, so a rolled-back mutation sends
nothing and a committed one is never lost; the delivery loop (`services/callbacks.py`)
sends what is here. Events go to the task's callback URL, else the account's; with
neither, nothing is written.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from gql_server import clock
from gql_server.models import Account, OutboxEvent, Submission, Task, WebhookEndpoint
from gql_server.models.enums import AuditOutcome, Currency, OutboxStatus, TaskChange
from gql_server.services.events import (
    DomainEvent,
    Handler,
    SubmissionAudited,
    SubmissionsReviewed,
    SubmissionSubmitted,
    TaskStatusChanged,
    UnitOfWork,
)
from gql_server.services.global_ids import global_id
from gql_server.services.money import format_amount

SUBMISSION_SUBMITTED = "submission.submitted"
SUBMISSION_REVIEWED = "submission.reviewed"
SUBMISSION_AUDITED = "submission.audited"
TASK_CLOSED = "task.closed"

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


async def _write(
    account: Account,
    url: str,
    events: list[tuple[str, int, int | None, dict[str, Any]]],
) -> None:
    endpoint = await endpoint_for(account.id, url)
    now = clock.now()
    status = OutboxStatus.DISABLED if endpoint.disabled_at else OutboxStatus.PENDING
    await OutboxEvent.bulk_create(
        [
            OutboxEvent(
                account_id=account.id,
                endpoint_id=endpoint.id,
                task_id=task_id,
                submission_id=submission_id,
                message_id=f"msg_{uuid.uuid4().hex}",
                event_type=event_type,
                payload=_envelope(event_type, data),
                status=status,
                next_attempt_at=now,
                give_up_at=now + RETRY_WINDOW,
                created_at=now,
            )
            for event_type, task_id, submission_id, data in events
        ]
    )


async def _callback_url(task_id: int) -> str | None:
    """Where the task's callbacks go (its own URL, else its account's), in one query."""
    own, account = (
        await Task.filter(id=task_id).values_list("callback_url", "account__callback_url")
    )[0]
    return str(own or account) if own or account else None


async def enqueue_submission_events(
    event_type: str, task_id: int, submission_ids: Iterable[int]
) -> None:
    """Write one event per submission of the task; call inside the transaction that changed
    them. Without a callback URL (the task's, else the account's) nothing is read or written
    beyond that URL (one query)."""
    ids = list(submission_ids)
    if not ids or not (url := await _callback_url(task_id)):
        return
    task = await Task.get(id=task_id)
    account = await Account.get(id=task.account_id)
    rows = await Submission.filter(id__in=ids, task_id=task_id).order_by("id")
    await _write(
        account,
        url,
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
    if url := await _callback_url(task_id):
        task = await Task.get(id=task_id)
        account = await Account.get(id=task.account_id)
        await _write(account, url, [(event_type, task.id, None, task_body(task, account.currency))])


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
