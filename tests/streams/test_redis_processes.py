"""Live streams through Redis with real processes: Redis stopped and started under live
subscriptions, and several server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from gql_server.settings import Settings
from tests.factories import (
    Requester,
    api_funded_draft,
    api_review,
    api_start_and_submit,
    api_task_action,
    figures_of,
    new_worker,
)
from tests.server import WAIT_SECONDS, Http, LiveClient, redis_server, running_server
from tests.streams.documents import BUDGET, QUEUE


async def broadcast_ok(base: str, expected: bool) -> None:
    """Poll /healthz until the server has noticed what happened to Redis."""
    async with httpx.AsyncClient() as client, asyncio.timeout(WAIT_SECONDS):
        while True:
            health = (await client.get(f"{base}/healthz")).json()
            if health["broadcast"]["ok"] == expected:
                return
            await asyncio.sleep(0.1)


async def test_live_subscriptions_resync_after_redis_comes_back(
    database: Settings, tmp_path: Path, account: Requester
) -> None:
    with redis_server(tmp_path) as redis:
        env = {
            "DATABASE_URL": database.database_url,
            "REDIS_URL": redis.url,
            "GQL_BACKGROUND_IN_PROCESS": "false",
        }
        with running_server(env, cwd=tmp_path) as base:
            http = Http(base)
            owner = account.key
            task_id = await api_funded_draft(http, owner)
            async with LiveClient(base, account.key) as live:
                budget = live.subscribe(BUDGET, {"t": task_id})
                queue = live.subscribe(QUEUE, {"t": task_id})
                before = (await budget.next())["budget"]["version"]
                assert (await queue.next())["reviewQueue"]["length"] == 0

                redis.stop()
                await broadcast_ok(base, False)
                # Mutations go on while Redis is away, without waiting for it.
                began = time.monotonic()
                await api_task_action(http, owner, "publishTask", task_id)
                submission = await api_start_and_submit(http, (await new_worker()).key, task_id)
                assert time.monotonic() - began < 5

                redis.start()
                # Told to resynchronise: a snapshot with what happened meanwhile.
                resynced = (await budget.next())["budget"]
                assert (resynced["snapshot"], resynced["version"]) == (True, before + 2)
                assert figures_of(resynced) == ("30.00", "1.50", "0.00", "28.50")
                assert resynced["status"] == "OPEN"
                waiting = (await queue.next())["reviewQueue"]
                assert (waiting["snapshot"], waiting["length"]) == (True, 1)

                # Then every later change, as usual.
                await broadcast_ok(base, True)
                assert await api_review(http, owner, "approveSubmission", submission) == []
                approved = (await budget.next())["budget"]
                assert (approved["snapshot"], approved["version"]) == (False, before + 3)
                assert figures_of(approved) == ("30.00", "0.00", "1.50", "28.50")
                removed = (await queue.next())["reviewQueue"]
                assert (removed["length"], removed["changes"][0]["kind"]) == (0, "REMOVED")
            await http.client.aclose()


@pytest.mark.skipif(
    not (
        os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
        and os.environ.get("REDIS_URL")
    ),
    reason="several processes need PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)",
)
async def test_a_change_made_on_one_process_reaches_subscribers_on_another(
    database: Settings, tmp_path: Path, account: Requester
) -> None:
    env = {
        "DATABASE_URL": database.database_url,
        "REDIS_URL": os.environ["REDIS_URL"],
        "GQL_BACKGROUND_IN_PROCESS": "false",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        running_server(env, cwd=tmp_path / "a") as first,
        running_server(env, cwd=tmp_path / "b") as second,
    ):
        on_first = Http(first)
        owner = account.key
        task_id = await api_funded_draft(on_first, owner)
        async with LiveClient(second, account.key) as live:
            budget = live.subscribe(BUDGET, {"t": task_id})
            queue = live.subscribe(QUEUE)
            before = (await budget.next())["budget"]["version"]
            await queue.next()

            await api_task_action(on_first, owner, "publishTask", task_id)
            submission = await api_start_and_submit(on_first, (await new_worker()).key, task_id)

            seen = [(await budget.next())["budget"] for _ in range(2)]
            assert [(m["version"], figures_of(m)) for m in seen] == [
                (before + 1, ("30.00", "0.00", "0.00", "30.00")),
                (before + 2, ("30.00", "1.50", "0.00", "28.50")),
            ]
            added = (await queue.next())["reviewQueue"]
            assert (added["length"], added["changes"][0]["submissionId"]) == (1, submission)
        await on_first.client.aclose()
