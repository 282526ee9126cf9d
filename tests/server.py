"""Real processes for tests: `gql-server serve` (uvicorn) and `redis-server` on free loopback
ports, and clients that speak to them (GraphQL over HTTP, subscriptions with the gql client)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
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

from gql_server.settings import DEFAULT_RATE_LIMITS, MAX_RATE_LIMIT
from tests.graphql_client import Api

# Budgets no test spends: a test sends as many requests as its subject needs (the matrix
# of access sends hundreds with one key), and callers without a key share one bucket
# (their address, 127.0.0.1). The tests of rate limits set the budgets they test.
SUITE_RATE_LIMITS = ",".join(f"{kind}={MAX_RATE_LIMIT}" for kind in DEFAULT_RATE_LIMITS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`gql-server serve` on a free loopback port, which a test may kill and start again on
    the same port. Its output goes to a file in `cwd` (a pipe nobody reads would block the
    server once it filled)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"server-{self.port}.log"
        self._env = {**os.environ, **env, "GQL_PORT": str(self.port), "GQL_HOST": "127.0.0.1"}
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process; return once it answers /healthz."""
        with self.log.open("ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "gql_server", "serve"],
                cwd=self._cwd,
                env=self._env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._process = process
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code in (200, 503):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer in time")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything it was doing."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


@contextmanager
def running_server(env: dict[str, str], cwd: Path, timeout: float = 30.0) -> Iterator[str]:
    """Yield the base URL of a server process; stop it on exit."""
    with server_process(env, cwd, timeout) as server:
        yield server.base


@contextmanager
def server_process(
    env: dict[str, str], cwd: Path, timeout: float = 30.0
) -> Iterator[ServerProcess]:
    """A started `ServerProcess`, stopped on exit (whatever the test did to it)."""
    server = ServerProcess(env, cwd)
    try:
        server.start(timeout)
        yield server
    finally:
        server.stop()


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

    def pause(self) -> None:
        """SIGSTOP: Redis hangs, its connections stay open and nothing answers on them."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self.resume()  # a stopped process would not act on SIGTERM
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
