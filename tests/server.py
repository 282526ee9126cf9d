"""Real processes for tests: `gql-server serve` (uvicorn) and `redis-server` on free loopback
ports, and clients that speak to them (GraphQL over HTTP, subscriptions with the gql client)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.graphql_client import Api


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], cwd: Path, timeout: float = 30.0) -> Iterator[str]:
    """Yield the base URL of a server process; stop it on exit. Its output goes to
    `server.log` in `cwd`: a pipe nobody reads would block a server that logs a lot."""
    port = free_port()
    process_env = {**os.environ, **env, "GQL_PORT": str(port), "GQL_HOST": "127.0.0.1"}
    log_path = cwd / "server.log"
    log = log_path.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "gql_server", "serve"],
        cwd=cwd,
        env=process_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer in time")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# How long a test waits for a real process to answer before it fails.
WAIT_SECONDS = 20.0


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/graphql"


class RedisServer:
    """A private `redis-server` on a free loopback port that a test can stop and start."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.skip("redis-server is not installed")
        self._process = subprocess.Popen(
            [
                *(executable, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self._workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Http(Api):
    """GraphQL over HTTP against a running server."""

    def __init__(self, base: str) -> None:
        super().__init__(httpx.AsyncClient(base_url=base, timeout=30))


class LiveStream:
    """The messages of one subscription, as they arrive."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | Exception] = asyncio.Queue()

    async def next(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_SECONDS):
            item = await self.queue.get()
        if isinstance(item, Exception):
            raise item
        return item


class LiveClient:
    """A dashboard: one graphql-transport-ws connection (the gql client) with subscriptions."""

    def __init__(self, base: str, key: str) -> None:
        self.transport = WebsocketsTransport(
            url=ws_url(base),
            init_payload={"Authorization": f"Bearer {key}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> LiveClient:
        self.session = await self._stack.enter_async_context(Client(transport=self.transport))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stack.aclose()

    def subscribe(self, document: str, variables: dict[str, Any] | None = None) -> LiveStream:
        stream = LiveStream()

        async def run() -> None:
            request = GraphQLRequest(document, variable_values=variables)
            try:
                async for data in self.session.subscribe(request):
                    stream.queue.put_nowait(data)
            except Exception as error:
                stream.queue.put_nowait(error)

        self._tasks.append(asyncio.create_task(run()))
        return stream
