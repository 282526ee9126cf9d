"""Exports leave as they are read: the first byte before the database is asked, the rest
in many chunks; an abandoned download gives its place (and its database connection)
back; on a real server, a link's secret never reaches the log; the command line writes
the very files the server sends."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.requests import ClientDisconnect

from gql_server import clock
from gql_server.models import Submission
from gql_server.models.enums import SubmissionState
from gql_server.schema.relay import to_global_id
from gql_server.settings import Settings
from tests import REPO_ROOT
from tests.factories import Requester, new_submitted, new_task, new_worker
from tests.graphql_client import Api
from tests.server import server_process

pytestmark = pytest.mark.usefixtures("database")

LINK = """mutation ($input: CreateExportLinkInput!) { createExportLink(input: $input) {
  path userErrors { code } } }"""


async def _many(requester: Requester, count: int, *, same_time: bool = False) -> Any:
    """A task with `count` submitted submissions, written in bulk (an export reads them; no
    use case acts on them), submitted a second apart or all at once."""
    task = await new_task(requester, budget="5.00")
    worker = await new_worker()
    now = clock.now()
    await Submission.bulk_create(
        [
            Submission(
                account_id=requester.account_id,
                task_id=task.id,
                worker_id=worker.id,
                state=SubmissionState.SUBMITTED,
                response={"answer": f"answer {n} " + "x" * 200},
                reward_minor=100,
                deadline_at=now + timedelta(hours=1),
                submitted_at=now if same_time else now - timedelta(seconds=count - n),
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    return task


class Recorded:
    """The ASGI messages an app sent for one request."""

    def __init__(self) -> None:
        self.start: dict[str, Any] = {}
        self.bodies: list[bytes] = []


async def _call(
    app: Any,
    path: str,
    key: str,
    params: dict[str, str],
    on_body: Any = None,
) -> Recorded:
    """GET `path` on the app, as uvicorn calls it (ASGI spec 2.4: a send after the client
    left raises OSError); `on_body(recorded)` runs as each body message arrives."""
    recorded = Recorded()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params).encode(),
        "root_path": "",
        "headers": [(b"host", b"test"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            recorded.start = message
        elif message["type"] == "http.response.body":
            recorded.bodies.append(message["body"])
            if on_body is not None:
                await on_body(recorded)

    async with asyncio.timeout(60):
        await app(scope, receive, send)
    return recorded


async def test_the_header_leaves_before_the_database_is_read_and_rows_follow_in_chunks(
    app: Any, requester: Requester
) -> None:
    task = await _many(requester, 3000)
    params = {"taskId": to_global_id("Task", task.id)}
    late: list[int] = []

    async def on_body(recorded: Recorded) -> None:
        # When the header row arrives, the rows have not been read: work submitted now,
        # after every other, is in the file.
        if len(recorded.bodies) == 1:
            late.append((await new_submitted(task, text="submitted after the header")).id)

    recorded = await _call(app, "/export/submissions.csv", requester.key, params, on_body)
    assert recorded.start["status"] == 200
    headers = dict(recorded.start["headers"])
    assert b"content-length" not in headers
    assert recorded.bodies[0].decode().startswith("submission_id,task_id,")
    assert recorded.bodies[0].count(b"\r\n") == 1
    text = b"".join(recorded.bodies).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 3001
    assert rows[-1]["submission_id"] == to_global_id("Submission", late[0])
    # A chunk holds about 32,000 characters: about 250 rows of these, not the whole file.
    assert len(recorded.bodies) >= 3000 * 250 // 40_000
    assert max(len(body) for body in recorded.bodies) < 40_000


async def test_an_abandoned_download_gives_its_place_back(
    app: Any, requester: Requester, database: Settings
) -> None:
    task = await _many(requester, 2500)
    params = {"taskId": to_global_id("Task", task.id), "states": "SUBMITTED"}
    downloads = app.state.downloads

    async def leave(recorded: Recorded) -> None:
        if len(recorded.bodies) == 3:
            assert downloads.running == 1
            raise OSError("the client went away")

    # More abandoned downloads than may run at once, and than the pool has connections:
    # each gave its place, and on PostgreSQL its cursor's connection, back, or the last
    # ones would be refused, or wait for a connection forever.
    for _ in range(database.db_pool_size + 1):
        # Starlette answers a send that failed so (uvicorn's sign that the client left).
        with pytest.raises(ClientDisconnect):
            await _call(app, "/export/submissions.csv", requester.key, params, leave)
        assert downloads.running == 0
    whole = await _call(app, "/export/submissions.csv", requester.key, params)
    assert whole.start["status"] == 200
    assert b"".join(whole.bodies).count(b"\r\n") == 2501


async def test_the_command_line_writes_the_files_the_server_sends(
    api: Api, requester: Requester, database: Settings, tmp_path: Path
) -> None:
    task = await new_task(requester)
    for text in ("=1+1", "plain, with a comma"):
        await new_submitted(task, text=text)
    task_id = to_global_id("Task", task.id)
    account = to_global_id("Account", requester.account_id)
    env = {**os.environ, "DATABASE_URL": database.database_url}
    headers = {"Authorization": f"Bearer {requester.key}"}

    def export(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "gql_server", "export", "submissions", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )

    target = tmp_path / "submissions.csv"
    written = export("--account", account, "--filter", f"taskId={task_id}", "--output", str(target))
    assert written.returncode == 0, written.stderr
    served = await api.client.get(
        "/export/submissions.csv", params={"taskId": task_id}, headers=headers
    )
    assert target.read_bytes() == served.content
    lines = export("--account", account, "--format", "jsonl", "--filter", f"taskId={task_id}")
    assert lines.returncode == 0, lines.stderr
    served_lines = await api.client.get(
        "/export/submissions.jsonl", params={"taskId": task_id}, headers=headers
    )
    assert lines.stdout == served_lines.content and lines.stdout.count(b"\n") == 2

    bad = tmp_path / "bad.csv"
    refused = export("--account", account, "--filter", "states=NAPPING", "--output", str(bad))
    assert refused.returncode == 2 and b"'states' is not valid" in refused.stderr
    assert not bad.exists()
    nobody = export("--account", to_global_id("Account", 10**15))
    assert nobody.returncode == 2 and b"No account" in nobody.stderr


async def test_a_link_works_on_a_real_server_and_its_secret_is_not_logged(
    requester: Requester, database: Settings, tmp_path: Path
) -> None:
    task = await new_task(requester)
    await new_submitted(task)
    env = {"DATABASE_URL": database.database_url, "GQL_BACKGROUND_IN_PROCESS": "false"}
    if database.redis_url:
        env["REDIS_URL"] = database.redis_url
    with server_process(env, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            made = await client.post(
                "/graphql",
                json={"query": LINK, "variables": {"input": {"format": "CSV"}}},
                headers={"Authorization": f"Bearer {requester.key}"},
            )
            path = made.json()["data"]["createExportLink"]["path"]
            async with client.stream("GET", path) as download:
                assert download.status_code == 200
                assert download.headers["transfer-encoding"] == "chunked"
                body = b"".join([chunk async for chunk in download.aiter_raw()])
            assert body.count(b"\r\n") == 2
        secret = path.removeprefix("/export/links/")
        log = server.log.read_text()
        assert "GET /export/links/<secret>" in log
        assert secret not in log


async def test_downloads_beyond_the_limit_are_told_to_retry(
    app: Any, requester: Requester, database: Settings
) -> None:
    # All at one time: the order (and SQLite's pages of 1,000) then rest on the ids alone.
    task = await _many(requester, 2500, same_time=True)
    params = {"taskId": to_global_id("Task", task.id)}
    limit = max(1, database.db_pool_size // 2)
    gate, all_held = asyncio.Event(), asyncio.Event()
    holding: list[int] = []

    async def hold(recorded: Recorded) -> None:
        if len(recorded.bodies) == 2:
            holding.append(1)
            if len(holding) == limit:
                all_held.set()
            await gate.wait()

    running = [
        asyncio.create_task(_call(app, "/export/submissions.csv", requester.key, params, hold))
        for _ in range(limit)
    ]
    async with asyncio.timeout(30):
        await all_held.wait()
    busy = await _call(app, "/export/submissions.csv", requester.key, params)
    assert busy.start["status"] == 503
    assert (b"retry-after", b"5") in busy.start["headers"]
    assert b'"code":"SERVICE_UNAVAILABLE"' in b"".join(busy.bodies)
    gate.set()
    ids = list(await Submission.filter(task_id=task.id).order_by("id").values_list("id", flat=True))
    for finished in await asyncio.gather(*running):
        rows = list(csv.DictReader(io.StringIO(b"".join(finished.bodies).decode(), newline="")))
        assert [row["submission_id"] for row in rows] == [
            to_global_id("Submission", pk) for pk in ids
        ]
    assert app.state.downloads.running == 0
