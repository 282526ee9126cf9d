"""Redis broken under live dashboards, with a real server process on a redis-server the test
owns: restarted while approvals go on, and hung (SIGSTOP) instead of dying.

What dashboards rely on: every subscriber is resynchronised (a snapshot) once Redis answers
again, no subscriber ever sees a version go back, later changes flow as before, and while
Redis is away or hung the approving requests neither fail nor wait for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from gql_server.models import Submission
from gql_server.schema.relay import to_global_id
from gql_server.services import streams
from gql_server.settings import Settings
from gql_server.subscriptions.hub import CATCH_UP_SECONDS
from gql_server.subscriptions.redis_backend import HANG_NOTICED_WITHIN
from tests.factories import api_review, figures_of, new_requester, new_submitted, new_task
from tests.server import WAIT_SECONDS, Http, LiveClient, LiveStream, redis_server, server_process
from tests.streams.documents import BUDGET, QUEUE


def server_env(database: Settings, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database.database_url,
        "REDIS_URL": redis_url,
        "GQL_BACKGROUND_IN_PROCESS": "false",
        "GQL_LOG_LEVEL": "warning",
    }


async def broadcast_ok(base: str, expected: bool) -> float:
    """Poll /healthz until the broadcast is (or is not) ok; return how long that took."""
    began = time.monotonic()
    async with httpx.AsyncClient() as client, asyncio.timeout(WAIT_SECONDS):
        while True:
            if (await client.get(f"{base}/healthz")).json()["broadcast"]["ok"] == expected:
                return time.monotonic() - began
            await asyncio.sleep(0.05)


async def until_snapshot(stream: LiveStream, field: str, last: int) -> dict[str, Any]:
    """Read `stream` until a snapshot arrives, checking that no version goes back from
    `last`; return the snapshot."""
    while True:
        message = (await stream.next())[field]
        assert message["version"] >= last, f"{field} went back from {last}: {message}"
        last = message["version"]
        if message["snapshot"]:
            return message


def approver(http: Http, key: str) -> Callable[[Submission], Awaitable[list[Any]]]:
    """approveSubmission over HTTP; the userErrors."""

    def approve(submission: Submission) -> Awaitable[list[Any]]:
        return api_review(http, key, "approveSubmission", to_global_id("Submission", submission.id))

    return approve


# What each dashboard follows (field, document, of the task rather than the account): the
# task's and the account's budget and review queue.
DASHBOARD = [
    ("budget", BUDGET, True),
    ("budget", BUDGET, False),
    ("reviewQueue", QUEUE, True),
    ("reviewQueue", QUEUE, False),
]


async def test_every_dashboard_resyncs_after_a_redis_restart_amid_approvals(
    database: Settings, tmp_path: Path
) -> None:
    requester = await new_requester()
    task = await new_task(requester, budget="20.00")  # reward 1.00
    pending = [await new_submitted(task) for _ in range(13)]
    before, during, after, last = pending[:4], pending[4:8], pending[8:12], pending[12]
    task_id = to_global_id("Task", task.id)
    channels = {
        ("budget", True): streams.task_budget_channel(task.id),
        ("budget", False): streams.account_budget_channel(requester.account_id),
        ("reviewQueue", True): streams.task_queue_channel(task.id),
        ("reviewQueue", False): streams.account_queue_channel(requester.account_id),
    }

    with (
        redis_server(tmp_path) as redis,
        server_process(server_env(database, redis.url), tmp_path) as server,
    ):
        http = Http(server.base)
        approve = approver(http, requester.key)
        async with AsyncExitStack() as stack:
            dashboards = []  # (field, channel, stream, messages seen)
            for _ in range(4):
                live = await stack.enter_async_context(LiveClient(server.base, requester.key))
                for field, document, of_task in DASHBOARD:
                    stream = live.subscribe(document, {"t": task_id} if of_task else {})
                    dashboards.append((field, channels[field, of_task], stream, []))
            for field, _, stream, seen in dashboards:
                seen.append((await stream.next())[field])

            async def approve_all(submissions: list[Submission]) -> None:
                errors = await asyncio.gather(*(approve(s) for s in submissions))
                assert errors == [[]] * len(submissions)

            await approve_all(before)
            redis.stop()
            await broadcast_ok(server.base, False)
            await approve_all(during)  # Redis is away: they succeed without it
            redis.start()
            await approve_all(after)  # while the server reconnects and resynchronises
            await broadcast_ok(server.base, True)

            for field, channel, stream, seen in dashboards:
                latest = await streams.latest_version(channel)
                while seen[-1]["version"] < latest:
                    seen.append((await stream.next())[field])
                versions = [message["version"] for message in seen]
                assert versions == sorted(versions), f"{channel} went back: {versions}"
                assert any(message["snapshot"] for message in seen[1:]), f"{channel}: no resync"
            # Subscribers of one stream end in the same state: what the 12 approvals made.
            final: dict[str, list[dict[str, Any]]] = {}
            for _, channel, _, seen in dashboards:
                final.setdefault(channel, []).append(
                    {k: v for k, v in seen[-1].items() if k not in ("snapshot", "changes")}
                )
            assert all(states == states[:1] * 4 for states in final.values()), final
            task_budget = final[channels["budget", True]][0]
            assert figures_of(task_budget) == ("20.00", "1.00", "12.00", "7.00")
            assert final[channels["reviewQueue", True]][0]["length"] == 1
            assert final[channels["reviewQueue", False]][0]["length"] == 1

            # Then changes flow through Redis again, to every subscriber, one version on
            # (well before the catch-up every CATCH_UP_SECONDS could deliver them).
            assert await approve(last) == []
            async with asyncio.timeout(CATCH_UP_SECONDS / 2):
                for field, _, stream, seen in dashboards:
                    message = (await stream.next())[field]
                    assert message["snapshot"] is False
                    assert message["version"] == seen[-1]["version"] + 1
        await http.client.aclose()


async def test_a_hung_redis_is_noticed_in_time_and_subscribers_resync_once_it_answers(
    database: Settings, tmp_path: Path
) -> None:
    requester = await new_requester()
    task = await new_task(requester)  # reward 1.00, budget 10.00
    first, during, after = [await new_submitted(task) for _ in range(3)]
    task_id = to_global_id("Task", task.id)

    with (
        redis_server(tmp_path) as redis,
        server_process(server_env(database, redis.url), tmp_path) as server,
    ):
        http = Http(server.base)
        approve = approver(http, requester.key)
        async with LiveClient(server.base, requester.key) as live:
            budget = live.subscribe(BUDGET, {"t": task_id})
            queue = live.subscribe(QUEUE, {"t": task_id})
            start = (await budget.next())["budget"]["version"]
            assert (await queue.next())["reviewQueue"]["length"] == 3
            assert await approve(first) == []
            assert (await budget.next())["budget"]["version"] == start + 1
            assert (await queue.next())["reviewQueue"]["length"] == 2

            redis.pause()
            try:
                # The stated bound, and some slack for a loaded machine.
                assert await broadcast_ok(server.base, False) < HANG_NOTICED_WITHIN + 2
                # An approval does not wait for the hung Redis (publishing gives up).
                began = time.monotonic()
                assert await approve(during) == []
                assert time.monotonic() - began < 5
            finally:
                redis.resume()

            # Told to resynchronise: a snapshot that includes the approval made meanwhile.
            resynced = await until_snapshot(budget, "budget", start + 1)
            assert resynced["version"] == start + 2
            assert figures_of(resynced) == ("10.00", "1.00", "2.00", "7.00")
            assert (await until_snapshot(queue, "reviewQueue", 0))["length"] == 1

            await broadcast_ok(server.base, True)
            assert await approve(after) == []
            latest = (await budget.next())["budget"]
            assert (latest["snapshot"], latest["version"]) == (False, start + 3)
            assert figures_of(latest) == ("10.00", "0.00", "3.00", "7.00")
        await http.client.aclose()
