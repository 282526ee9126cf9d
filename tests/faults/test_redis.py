"""Redis broken under live dashboards, with a real server process on a redis-server the test
owns: restarted while approvals go on, and hung (SIGSTOP) instead of dying.

What dashboards rely on: every subscriber is resynchronised (a snapshot) once Redis answers
again, no subscriber ever sees a version go back, later changes flow as before, and while
Redis is away or hung the approving requests neither fail nor wait for it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from gql_server.schema.relay import to_global_id
from gql_server.settings import Settings
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


async def test_a_hung_redis_is_noticed_in_time_and_subscribers_resync_once_it_answers(
    database: Settings, tmp_path: Path
) -> None:
    requester = await new_requester()
    task = await new_task(requester)  # reward 1.00, budget 10.00
    first, during, after = [await new_submitted(task) for _ in range(3)]
    task_id = to_global_id("Task", task.id)

    def approve(submission: Any) -> Any:
        return api_review(
            http, requester.key, "approveSubmission", to_global_id("Submission", submission.id)
        )

    with (
        redis_server(tmp_path) as redis,
        server_process(server_env(database, redis.url), tmp_path) as server,
    ):
        http = Http(server.base)
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
                assert await broadcast_ok(server.base, False) < HANG_NOTICED_WITHIN + 1
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
