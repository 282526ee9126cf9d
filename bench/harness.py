"""What every scenario needs: server processes on free ports, HTTP load, interleaved
rounds, and the figures (median, spread, ratio) they print and store.

Two kinds of load, both returning a `Load`:
- `closed_loop`: each client sends its next request when the last one ended. It finds
  capacity (requests per second), but a slow server slows its own offered load, so its
  latencies hide the queueing a real arrival rate would meet (coordinated omission).
- `open_loop`: requests at fixed intended send times, `rate` a second, whatever the
  server does; each latency runs from the request's intended send time, so the time a
  request waited for a free connection, or for the scheduler, counts. Latencies are
  comparable between servers only at the same offered rate; pick it below the slower
  one's capacity (a closed-loop probe), or the queue, and every latency, grows with the
  length of the run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gql_server.settings import DEFAULT_RATE_LIMITS, MAX_RATE_LIMIT

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A running server process: where it answers, and its pid (to read its memory)."""

    base: str
    pid: int

    def rss_kib(self) -> int:
        """The process's resident memory now (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for process {self.pid}")


@contextmanager
def serving(command: list[str], env: dict[str, str], health: str) -> Iterator[str]:
    """Run `command` (which serves on $PORT) until the block ends; yield its base URL."""
    with serving_process(command, env, health) as served:
        yield served.base


@contextmanager
def serving_process(command: list[str], env: dict[str, str], health: str) -> Iterator[Served]:
    """Like `serving`, and the process's pid with it."""
    port = free_port()
    # A folder of its own, so that nothing a server writes beside it (the embedded
    # default's demo key file) lands in the checkout; the code comes from the checkout.
    workdir = tempfile.TemporaryDirectory(prefix="gqs-bench-")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [part.replace("$PORT", str(port)) for part in command],
        cwd=workdir.name,
        env={
            **os.environ,
            **env,
            "PYTHONPATH": path,
            "GQL_PORT": str(port),
            "GQL_HOST": "127.0.0.1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{command[0]} exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                httpx.get(base + health, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not answer in time") from None
                time.sleep(0.1)
        yield Served(base, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        workdir.cleanup()


# The product as served, rate limits included: every request is priced and counted, with
# budgets no scenario reaches, so that what is measured is the work and not the refusals.
PRODUCT_ENV = {
    "GQL_BACKGROUND_IN_PROCESS": "false",
    "GQL_LOG_LEVEL": "warning",
    "GQL_RATE_LIMITS": ",".join(f"{kind}={MAX_RATE_LIMIT}" for kind in DEFAULT_RATE_LIMITS),
}


def product_server(env: dict[str, str]) -> Iterator[str]:
    """`gql-server serve` on the given database, with no background jobs."""
    return serving(
        [sys.executable, "-m", "gql_server", "serve"],
        {**PRODUCT_ENV, **env},
        "/healthz",
    )


def product_process(env: dict[str, str]) -> Iterator[Served]:
    """`product_server`, and its pid."""
    return serving_process(
        [sys.executable, "-m", "gql_server", "serve"],
        {**PRODUCT_ENV, **env},
        "/healthz",
    )


def _uvicorn(target: str, options: tuple[str, ...]) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", target, "--port", "$PORT"),
        *("--log-level", "warning", "--no-access-log", *options),
    ]


def uvicorn_app(target: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A baseline ASGI app (`module:app`) under uvicorn, served like the product."""
    return serving(_uvicorn(target, ()), env or {}, "/graphql?query=%7B__typename%7D")


def uvicorn_process(
    target: str, options: tuple[str, ...], health: str, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """A baseline ASGI app under uvicorn with extra `options`, and its pid."""
    return serving_process(_uvicorn(target, options), env or {}, health)


@dataclass
class Load:
    """What a load measured: completed requests and their latencies (seconds)."""

    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def closed_loop(
    clients: int, seconds: float, request: Callable[[httpx.AsyncClient], Awaitable[None]], base: str
) -> Load:
    """`clients` keep-alive connections, each sending its next request when the last ended,
    for `seconds` after its connection is warm; each counts one request at least, so that
    a request slower than the window (a loaded machine, a report at scale) is measured, not
    dropped."""
    load = Load(seconds)
    spans: list[tuple[float, float]] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            await request(http)  # warm the connection up; not counted
            began = time.monotonic()
            stop = began + seconds
            while True:
                started = time.monotonic()
                await request(http)
                load.latencies.append(time.monotonic() - started)
                if time.monotonic() >= stop:
                    break
            spans.append((began, time.monotonic()))

    await asyncio.gather(*(client() for _ in range(clients)))
    # The rate is over the time the counted requests took, which outlasts `seconds` when
    # a client's warm-up ended late or its last request ran past the window.
    load.seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    return load


async def open_loop(
    rate: float,
    seconds: float,
    request: Callable[[httpx.AsyncClient], Awaitable[None]],
    base: str,
    connections: int,
) -> Load:
    """`rate` requests a second for `seconds`, the n-th due at start + n / rate, over at
    most `connections` keep-alive connections; each latency is measured from its due time.

    A request due while every connection is busy waits for one, and that wait is part of
    its latency. Requests still running when the time is up are awaited and counted, so
    `Load.rate` is the completed share of the offered rate over the window."""
    load = Load(seconds)
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(connections)]
    try:
        for http in clients:
            await request(http)  # open and warm the connection up; not counted
            idle.put_nowait(http)

        async def send(due: float) -> None:
            http = await idle.get()
            try:
                await request(http)
            finally:
                idle.put_nowait(http)
            load.latencies.append(time.monotonic() - due)

        start = time.monotonic()
        sent: list[asyncio.Task[None]] = []
        for n in range(max(1, round(rate * seconds))):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent.append(asyncio.create_task(send(due)))
        await asyncio.gather(*sent)
    finally:
        for http in clients:
            await http.aclose()
    return load


@dataclass
class Figure:
    """One measured quantity of a scenario, per round, for the product and its baseline."""

    scenario: str
    metric: str
    unit: str
    higher_is_better: bool
    product: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    baseline_name: str = ""

    def ratios(self) -> list[float]:
        """The product's cost over the baseline's, per round (> 1 = the product is slower)."""
        pairs = zip(self.product, self.baseline, strict=True)
        if self.higher_is_better:
            return [b / p if p else float("inf") for p, b in pairs]
        return [p / b if b else float("inf") for p, b in pairs]

    def summary(self) -> dict[str, Any]:
        ratios = self.ratios()
        return {
            **asdict(self),
            "product_median": statistics.median(self.product),
            "baseline_median": statistics.median(self.baseline),
            "cost_ratio_median": statistics.median(ratios),
            "cost_ratio_min": min(ratios),
            "cost_ratio_max": max(ratios),
        }


def table(figures: list[Figure]) -> str:
    lines = [
        "| scenario | metric | product (median) | baseline (median) "
        "| product cost / baseline cost |",
        "| --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        s = figure.summary()
        lines.append(
            f"| {figure.scenario} | {figure.metric} | {s['product_median']:.1f} {figure.unit} "
            f"| {figure.baseline_name}: {s['baseline_median']:.1f} {figure.unit} "
            f"| x{s['cost_ratio_median']:.2f} "
            f"({s['cost_ratio_min']:.2f}-{s['cost_ratio_max']:.2f}) |"
        )
    return "\n".join(lines)


class _StatementLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def sql_statements(settings: Any, key: str, body: Callable[[], dict[str, Any]]) -> int:
    """How many SQL statements one request costs: the app in-process on the scenario's
    database, the request sent once to warm it up, then counted from Tortoise's statement
    log (every statement it sends, BEGIN and COMMIT aside). `body` makes each request's
    JSON (a fresh one for a mutation that cannot be repeated)."""
    from gql_server.app import create_app

    app = create_app(settings, manage_database=False)
    statements = _StatementLog()
    log = logging.getLogger("tortoise.db_client")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        await http.post("/graphql", json=body(), headers=headers)
        log.setLevel(logging.DEBUG)
        log.addHandler(statements)
        try:
            answer = (await http.post("/graphql", json=body(), headers=headers)).json()
        finally:
            log.removeHandler(statements)
            log.setLevel(logging.NOTSET)
    assert not answer.get("errors"), answer
    return statements.count
