"""The callback worker as a real process (`gql-server worker`): it delivers what was committed
while none ran, and a worker killed mid-send leaves the event to the next one."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gql_server.models import OutboxEvent
from gql_server.models.enums import OutboxStatus
from gql_server.services import callbacks, submissions
from gql_server.settings import Settings
from tests import REPO_ROOT
from tests.callbacks.receiver import Receiver, events_of, reviewed_submission, sender
from tests.factories import answer, frozen_clock, new_requester, new_task, new_worker

pytestmark = pytest.mark.usefixtures("database")


@pytest.fixture
def worker_env(database: Settings) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": database.database_url,
        "GQL_ALLOW_PRIVATE_CALLBACKS": "true",
        "GQL_LOG_LEVEL": "warning",
    }
    env.pop("REDIS_URL", None)
    yield env


async def test_an_event_committed_while_no_worker_runs_is_delivered_when_one_starts(
    httpserver: HTTPServer, worker_env: dict[str, str]
) -> None:
    receiver = Receiver(httpserver, [200])
    requester = await new_requester()
    submission_id = await reviewed_submission(requester, receiver.url)
    assert receiver.requests == []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gql_server",
        "worker",
        cwd=REPO_ROOT,
        env=worker_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        # Until the worker has recorded both deliveries, not just sent them.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            e.status == OutboxStatus.DELIVERED for e in await events_of(submission_id)
        ):
            assert process.returncode is None, "the worker exited early"
            await asyncio.sleep(0.1)
    finally:
        process.kill()
        await process.wait()
    assert sorted(json.loads(body)["type"] for _, body in receiver.requests) == [
        "submission.reviewed",
        "submission.submitted",
    ]
    assert all(e.status == OutboxStatus.DELIVERED for e in await events_of(submission_id))


async def test_a_worker_killed_while_sending_leaves_the_event_to_the_next_one(
    httpserver: HTTPServer, worker_env: dict[str, str]
) -> None:
    arrived, release = threading.Event(), threading.Event()
    received: list[str] = []

    def hold_first(request: Request) -> Response:
        received.append(request.headers["webhook-id"])
        if len(received) == 1:
            arrived.set()
            release.wait(10)
        return Response("", status=200)

    httpserver.expect_request("/hold", method="POST").respond_with_handler(hold_first)
    requester = await new_requester()
    task = await new_task(requester, callback_url=httpserver.url_for("/hold"))
    worker = await new_worker()
    started = await submissions.start_submission(worker.principal, task.id)
    await submissions.submit_submission(worker.principal, started.id, answer())
    [event] = await events_of(started.id)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gql_server", "worker", cwd=REPO_ROOT, env=worker_env
    )
    try:
        assert await asyncio.to_thread(arrived.wait, 30), "the worker never sent the event"
    finally:
        process.kill()  # SIGKILL mid-request: no chance to record anything
        await process.wait()
        release.set()
    assert (await OutboxEvent.get(id=event.id)).status == OutboxStatus.PENDING

    # The dead worker's claim lapses; the next worker sends the same message again.
    with frozen_clock(datetime.now(UTC) + callbacks.CLAIM_FOR + timedelta(seconds=1)):
        assert await sender().deliver_due() == 1
    assert received == [event.message_id, event.message_id]
    assert (await OutboxEvent.get(id=event.id)).status == OutboxStatus.DELIVERED
