"""Approvals through faults, against a real server process: its PostgreSQL backends
terminated mid-approval, and the process itself SIGKILLed during concurrent approvals and
started again on the same database.

What a client relies on: retrying with its idempotency key until it gets an answer, it gets
the approval, and each submission is paid exactly once (one PAY ledger row, one review),
with the ledger invariants holding (tests/factories.py `assert_ledger_consistent`: every
figure column equals its ledger sum, no bucket negative, budgets add up). A retry after the
answer returns the same result and moves nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gql_server.models import IdempotencyRecord, LedgerEntry, Review, StreamChange, Submission
from gql_server.models.enums import LedgerReason, SubmissionState
from gql_server.schema.relay import to_global_id
from gql_server.services import streams
from gql_server.settings import Settings
from tests.factories import (
    Requester,
    assert_ledger_consistent,
    frozen_clock,
    new_requester,
    new_submitted,
    new_task,
)
from tests.server import WAIT_SECONDS, server_process

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))

APPROVE = """
mutation ($s: ID!, $k: String) { approveSubmission(input: {submissionId: $s, idempotencyKey: $k}) {
  submission { id state paid { amount } } userErrors { code message } } }
"""
# How long a client keeps retrying before the test fails.
RETRY_FOR = 60.0
# Server backends terminated in the middle of their work, in one test.
TERMINATIONS = 10


def server_env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        "GQL_LOG_LEVEL": "warning",
    }


async def approve_until_answered(
    client: httpx.AsyncClient, key: str, submission_id: str, idempotency_key: str
) -> tuple[dict[str, Any], int]:
    """approveSubmission with `idempotency_key`, sent again after anything that is not an
    answer (no connection, a reset, an INTERNAL error, IDEMPOTENCY_IN_PROGRESS), as a
    careful client does; the payload and how many attempts it took."""
    deadline = time.monotonic() + RETRY_FOR
    attempts = 0
    while True:
        attempts += 1
        try:
            response = await client.post(
                "/graphql",
                json={"query": APPROVE, "variables": {"s": submission_id, "k": idempotency_key}},
                headers={"Authorization": f"Bearer {key}"},
            )
            body = response.json() if response.status_code == 200 else {}
        except httpx.TransportError:
            body = {}
        payload = (body.get("data") or {}).get("approveSubmission")
        in_progress = payload is not None and any(
            e["code"] == "IDEMPOTENCY_IN_PROGRESS" for e in payload["userErrors"]
        )
        if payload is not None and not in_progress:
            return payload, attempts
        assert time.monotonic() < deadline, f"no answer for {submission_id}: {body}"
        await asyncio.sleep(0.05)


async def approve_all(
    base: str, requester: Requester, submissions: list[Submission], keys: dict[int, str]
) -> tuple[dict[int, dict[str, Any]], int]:
    """Approve every submission at once, each retried with its key until answered; the
    answers by submission, and how many attempts were not answered."""
    async with httpx.AsyncClient(
        base_url=base, timeout=WAIT_SECONDS, limits=httpx.Limits(max_connections=100)
    ) as client:
        answers = await asyncio.gather(
            *(
                approve_until_answered(
                    client, requester.key, to_global_id("Submission", s.id), keys[s.id]
                )
                for s in submissions
            )
        )
    by_submission = {s.id: payload for s, (payload, _) in zip(submissions, answers, strict=True)}
    return by_submission, sum(attempts - 1 for _, attempts in answers)


async def assert_paid_exactly_once(
    requester: Requester, answers: dict[int, dict[str, Any]], keys: dict[int, str]
) -> None:
    """Every answer is the approval; in the database each submission is APPROVED with one
    PAY row and one review, each key has one record, and the ledger holds."""
    for submission_id, payload in answers.items():
        assert payload["userErrors"] == [], payload
        assert payload["submission"]["state"] == "APPROVED"
        assert payload["submission"]["paid"]["amount"] == "1.00"
        submission = await Submission.get(id=submission_id)
        assert (submission.state, submission.paid_minor) == (SubmissionState.APPROVED, 100)
        pays = LedgerEntry.filter(submission_id=submission_id, reason=LedgerReason.PAY)
        assert await pays.count() == 1, f"submission {submission_id} paid more than once"
        assert await Review.filter(submission_id=submission_id).count() == 1
        assert await IdempotencyRecord.filter(key=keys[submission_id]).count() == 1
    await assert_ledger_consistent(requester.account_id)


async def assert_streams_caught_up(requester: Requester, task_id: int) -> None:
    """After the straggler sweep, no change of the task's and the account's streams is left
    without a version (a pass that failed, or a process killed between a commit and its
    pass, leaves them stored), and each stream's latest message shows the state as it is."""
    ours = [
        streams.task_budget_channel(task_id),
        streams.task_queue_channel(task_id),
        streams.account_budget_channel(requester.account_id),
        streams.account_queue_channel(requester.account_id),
    ]
    with frozen_clock() as clock:
        clock.advance(timedelta(seconds=streams.STRAGGLER_SECONDS + 1))
        await streams.sequence_stragglers()
    assert not await StreamChange.exists(stream__in=ours)
    for channel in ours:
        now = await streams.snapshot(channel)
        stored = await streams.replay(channel, after=now.version - 1)
        assert stored is not None and stored[-1].state == now.state, channel


async def submitted_work(count: int) -> tuple[Requester, list[Submission], dict[int, str]]:
    """A task (reward 1.00) with `count` submissions waiting for review, and a key for each."""
    requester = await new_requester()
    task = await new_task(requester, budget=f"{count + 10}.00")
    pending = [await new_submitted(task) for _ in range(count)]
    return requester, pending, {s.id: f"approve-{uuid.uuid4().hex}" for s in pending}


@pytest.mark.skipif(not ON_POSTGRES, reason="terminates PostgreSQL backends (DATABASE_URL)")
async def test_backends_terminated_mid_approval_pay_each_submission_once(
    database: Settings, tmp_path: Path
) -> None:
    requester, pending, keys = await submitted_work(30)
    # The server's connections, and only those, carry this name in pg_stat_activity.
    name = f"gqs-faults-{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database.database_url.replace("postgres://", "postgresql://"))
    separator = "&" if "?" in database.database_url else "?"
    url = f"{database.database_url}{separator}application_name={name}"
    try:
        with server_process(server_env(url), tmp_path) as server:
            approving = asyncio.create_task(approve_all(server.base, requester, pending, keys))
            # Terminate what the server has inside a statement or a transaction, round
            # after round, until TERMINATIONS backends were caught mid-work; then let the
            # clients' retries finish.
            hit = 0
            while hit < TERMINATIONS and not approving.done():
                hit += len(
                    await admin.fetch(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = $1 AND datname = current_database() "
                        "AND state IN ('active', 'idle in transaction')",
                        name,
                    )
                )
                await asyncio.sleep(0.02)
            answers, unanswered = await approving
            assert hit >= TERMINATIONS, f"only {hit} backends were caught mid-approval"
            assert unanswered > 0, "no client had to retry"

            await assert_paid_exactly_once(requester, answers, keys)
            # Retried once more, each key returns the first result and moves nothing.
            assert await approve_all(server.base, requester, pending, keys) == (answers, 0)
            await assert_paid_exactly_once(requester, answers, keys)
    finally:
        await admin.close()
    await assert_streams_caught_up(requester, pending[0].task_id)


async def test_a_server_killed_during_concurrent_approvals_pays_each_once_after_restart(
    database: Settings, tmp_path: Path
) -> None:
    requester, pending, keys = await submitted_work(50)
    ids = [s.id for s in pending]
    with server_process(server_env(database.database_url), tmp_path) as server:
        approving = asyncio.create_task(approve_all(server.base, requester, pending, keys))
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                if await Submission.filter(id__in=ids, state=SubmissionState.APPROVED).exists():
                    break
                await asyncio.sleep(0.01)
        server.kill()
        committed = await Submission.filter(id__in=ids, state=SubmissionState.APPROVED).count()
        assert committed < len(pending), "every approval had committed before the kill"
        # The clients keep retrying while the server is down, then against the new one.
        await asyncio.to_thread(server.start)
        answers, unanswered = await approving
        assert unanswered > 0, "the kill interrupted no request"

        await assert_paid_exactly_once(requester, answers, keys)
        assert await approve_all(server.base, requester, pending, keys) == (answers, 0)
        await assert_paid_exactly_once(requester, answers, keys)

    await assert_streams_caught_up(requester, pending[0].task_id)
