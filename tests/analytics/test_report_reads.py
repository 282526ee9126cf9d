"""A report's reads (services/report_reads.py): one snapshot for all its statements, a
bounded share of the connections, a time limit; and how the API answers when a report
cannot run or runs too long."""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gql_server.clock import FrozenClock
from gql_server.services import report_reads, submissions
from gql_server.settings import Settings
from tests.analytics.conftest import period
from tests.factories import Requester, new_requester, new_task, new_worker
from tests.graphql_client import Api

pytestmark = pytest.mark.usefixtures("database")

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="the pool and its statement timeout are PostgreSQL's"
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
STARTS = """
query ($period: AnalyticsPeriodInput!) {
  analytics(period: $period) { engagement { starts } }
}
"""


async def _starts(reads: report_reads.Reads, account_id: int) -> int:
    mark = "$1" if reads.postgres else "?"
    found = await report_reads.one(
        reads, f"SELECT COUNT(*) AS n FROM submission WHERE account_id = {mark}", [account_id]
    )
    return int(found["n"])


async def _started_work(frozen: FrozenClock) -> tuple[Requester, Any, list[Any]]:
    frozen.set(T0)
    requester = await new_requester()
    task = await new_task(requester, max_submissions_per_worker=1)
    workers = [await new_worker() for _ in range(3)]
    await submissions.start_submission(workers[0].principal, task.id)
    return requester, task, workers


async def _all_report_connections(stack: AsyncExitStack) -> None:
    """Open reports until the next one would have to wait: every connection reports may
    hold is held."""
    for _ in range(10):
        try:
            await stack.enter_async_context(report_reads.snapshot())
        except report_reads.ReportsBusy:
            return
    raise AssertionError("reports were never refused")


async def test_work_committed_while_a_report_runs_is_not_in_it_and_is_kept(
    frozen: FrozenClock,
) -> None:
    requester, task, workers = await _started_work(frozen)
    async with report_reads.snapshot() as reads:
        assert await _starts(reads, requester.account_id) == 1
        start = asyncio.ensure_future(submissions.start_submission(workers[1].principal, task.id))
        if reads.postgres:
            # Committed on another connection while the report's snapshot stays as it was.
            await start
        else:
            # SQLite's one connection is the report's until it ends: the start waits.
            await asyncio.sleep(0)
        assert await _starts(reads, requester.account_id) == 1
    await start
    async with report_reads.snapshot() as reads:
        assert await _starts(reads, requester.account_id) == 2


@postgres_only
async def test_statements_side_by_side_read_the_same_snapshot(frozen: FrozenClock) -> None:
    requester, task, workers = await _started_work(frozen)
    sql = "SELECT pg_backend_pid() AS pid, COUNT(*) AS n FROM submission WHERE account_id = $1"
    async with report_reads.snapshot() as reads:
        await submissions.start_submission(workers[1].principal, task.id)
        first, second = await asyncio.gather(
            report_reads.one(reads, sql, [requester.account_id]),
            report_reads.one(reads, sql, [requester.account_id]),
        )
    assert first["pid"] != second["pid"], "the report had a second connection"
    assert first["n"] == second["n"] == 1


async def test_a_report_with_no_connection_free_in_time_is_refused(
    frozen: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    requester, _, _ = await _started_work(frozen)
    monkeypatch.setattr(report_reads, "QUEUE_SECONDS", 0.05)
    async with AsyncExitStack() as held:
        await _all_report_connections(held)
        with pytest.raises(report_reads.ReportsBusy):
            async with report_reads.snapshot():
                pass
    # Every connection came back: reports run again.
    async with report_reads.snapshot() as reads:
        assert await _starts(reads, requester.account_id) == 1


@postgres_only
async def test_busy_reports_answer_reports_busy_and_leave_connections_for_the_work(
    frozen: FrozenClock, monkeypatch: pytest.MonkeyPatch, api: Api
) -> None:
    requester, task, workers = await _started_work(frozen)
    monkeypatch.setattr(report_reads, "QUEUE_SECONDS", 0.05)
    asked = {"period": period(T0 - timedelta(days=1), T0 + timedelta(days=1))}
    async with AsyncExitStack() as held:
        await _all_report_connections(held)
        answer = await api.client.post(
            "/graphql",
            json={"query": STARTS, "variables": asked},
            headers={"Authorization": f"Bearer {requester.key}"},
        )
        body = answer.json()
        assert body["errors"][0]["extensions"]["code"] == "REPORTS_BUSY"
        assert body["errors"][0]["extensions"]["retryAfterSeconds"] == 5
        assert answer.headers["Retry-After"] == "5"
        # The work goes on while reports hold all they may.
        await submissions.start_submission(workers[1].principal, task.id)
    found = await api.data(STARTS, asked, key=requester.key)
    assert found["analytics"]["engagement"]["starts"] == 2


@postgres_only
async def test_a_report_past_its_time_limit_answers_report_timeout_and_frees_its_connections(
    frozen: FrozenClock, monkeypatch: pytest.MonkeyPatch, api: Api, database: Settings
) -> None:
    requester, _, _ = await _started_work(frozen)
    monkeypatch.setattr(report_reads, "STATEMENT_TIMEOUT_MS", 200)
    asked = {"period": period(T0 - timedelta(days=1), T0 + timedelta(days=1))}
    # A table the report reads, locked: its statement waits until the time limit stops it.
    blocker = await asyncpg.connect(database.database_url.replace("postgres://", "postgresql://"))
    try:
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("LOCK TABLE submission IN ACCESS EXCLUSIVE MODE")
        body = await api.post(STARTS, asked, key=requester.key)
        await locked.rollback()
    finally:
        await blocker.close()
    assert body["errors"][0]["extensions"]["code"] == "REPORT_TIMEOUT"
    assert "shorter period or a narrower scope" in body["errors"][0]["message"]
    assert body["errors"][0]["path"] == ["analytics"]
    for _ in range(3):
        found = await api.data(STARTS, asked, key=requester.key)
        assert found["analytics"]["engagement"]["starts"] == 1


async def test_figures_selected_through_fragments_are_computed(
    frozen: FrozenClock, api: Api
) -> None:
    requester, _, _ = await _started_work(frozen)
    asked = {"period": period(T0 - timedelta(days=1), T0 + timedelta(days=1))}
    found = await api.data(
        """
        query ($period: AnalyticsPeriodInput!) {
          analytics(period: $period) {
            ...Money
            ... on Analytics { engagement { starts } byCountry { key count } }
          }
        }
        fragment Money on Analytics { spending { spend { amount } } buckets { starts } }
        """,
        asked,
        key=requester.key,
    )
    figures = found["analytics"]
    assert figures["engagement"]["starts"] == 1
    assert figures["byCountry"] == [{"key": "DE", "count": 1}]
    assert figures["spending"]["spend"]["amount"] == "0.00"
    assert [b["starts"] for b in figures["buckets"]] == [0, 1, 0]
