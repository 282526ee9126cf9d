"""S3, fan-out to dashboards: one `approveSubmission` over HTTP, and N websockets
(graphql-transport-ws) each following the task's `budget` and `reviewQueue` streams.

Measured for N = 100, 1,000 and 5,000, on one server process and on two (PostgreSQL and
Redis; the subscribers split evenly, the approval sent to the first); on SQLite one
process and 100 subscribers; BENCH_S3_SIZES=1000,5000 measures other sizes (to
profile). Each N gets fresh server processes, so that memory one case freed does not hide
what the next one takes.

- commit-to-receipt, p50 and p99 over every (subscriber, stream) of a round: from the
  client-side send time of the approving request (time.time() just before it is sent, so
  the figure includes the request's own way to its commit) to the receipt of that
  approval's message on each subscriber (time.time() when the client read it; the
  clients run on the same machine). Baseline: a bare Starlette app that sends one
  constant message to as many websockets (bench/baselines/ws_broadcast.py), from one
  process, timed the same way from the send time of its `POST /publish`.
- the approving request's own latency with N subscribers on its task, beside an
  approval of another task of the same account that no one follows, on the same server
  in the same round (interleaved).
- memory per idle subscribed connection: the growth of the server processes' VmRSS from
  before the subscribers connect to after all of them received their first messages,
  over N; beside the bare app's growth for its N connections.

The subscribers live in client processes of their own (at most CLIENT_SHARE each), so
that reading 2N messages is not the bottleneck on the client side; each client process
keeps its product and its baseline connections open all along and times only the first
message per subscription after the parent armed it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import data
from bench.harness import Figure, Served, product_process, uvicorn_process
from gql_server.services.global_ids import global_id
from gql_server.settings import Settings

APPROVE = (
    "mutation ($id: ID!) { approveSubmission(input: {submissionId: $id}) "
    "{ submission { state } userErrors { code message } } }"
)
MONEY = "{ amount currency }"
BUDGET = (
    "subscription ($t: ID) { budget(taskId: $t) { version snapshot taskId status "
    f"balance {MONEY} figures {{ budget {MONEY} committed {MONEY} spent {MONEY} "
    f"remaining {MONEY} }} changes {{ cause taskId }} }} }}"
)
QUEUE = (
    "subscription ($t: ID) { reviewQueue(taskId: $t) { version snapshot taskId length "
    "changes { kind submissionId taskId } } }"
)
# What the bare app sends, about the size of a budget message.
BARE_PAYLOAD = {
    "budget": {
        "version": 7,
        "snapshot": False,
        "taskId": "VGFzazoxMjM0",
        "status": "OPEN",
        "balance": None,
        "figures": {
            key: {"amount": "1234.56", "currency": "USD"}
            for key in ("budget", "committed", "spent", "remaining")
        },
        "changes": [{"cause": "APPROVED", "taskId": "VGFzazoxMjM0"}],
    }
}
SIZES = (100, 1000, 5000)
SQLITE_SIZES = (100,)
SMOKE_SIZES = (10,)
# Subscribers per client process (product and baseline connections each).
CLIENT_SHARE = 1250
# Connections a client process opens at once.
CONNECTING = 32
RECEIPT_TIMEOUT = 60.0


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the client processes -------------------------------------------------------------------


@dataclass
class _Group:
    """The connections of one client process to one kind of server (product or bare)."""

    connections: list[ClientConnection] = field(default_factory=list)
    round: int = 0
    armed: bool = False
    receipts: list[float] = field(default_factory=list)
    expected: int = 0
    complete: asyncio.Event = field(default_factory=asyncio.Event)


async def _subscribe(
    url: str, key: str, task_id: str, group: _Group, readers: set[asyncio.Task[None]]
) -> None:
    websocket = await connect(
        url, subprotocols=["graphql-transport-ws"], open_timeout=120, ping_interval=None
    )  # type: ignore[list-item]
    await websocket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    )
    assert json.loads(await websocket.recv())["type"] == "connection_ack"
    for operation, document in (("b", BUDGET), ("q", QUEUE)):
        await websocket.send(
            json.dumps(
                {
                    "id": operation,
                    "type": "subscribe",
                    "payload": {"query": document, "variables": {"t": task_id}},
                }
            )
        )
    # The first message of each stream (its snapshot) says the subscription is live.
    for _ in range(2):
        message = json.loads(await websocket.recv())
        assert message["type"] == "next" and "errors" not in message["payload"], message
    group.connections.append(websocket)
    reader = asyncio.create_task(_read(websocket, group))
    readers.add(reader)


async def _read(websocket: ClientConnection, group: _Group) -> None:
    last_round: dict[str, int] = {}
    with suppress(ConnectionClosed):
        async for raw in websocket:
            received = time.time()
            if not group.armed:
                continue
            operation = json.loads(raw).get("id")
            if last_round.get(operation) == group.round:
                continue
            last_round[operation] = group.round
            group.receipts.append(received)
            if len(group.receipts) >= group.expected:
                group.complete.set()


async def _client(
    pipe: Connection, targets: dict[str, list[str]], key: str, task_id: str, count: int
) -> None:
    groups = {name: _Group() for name in targets}
    readers: set[asyncio.Task[None]] = set()
    limit = asyncio.Semaphore(CONNECTING)

    async def one(name: str, url: str) -> None:
        async with limit:
            await _subscribe(url, key, task_id, groups[name], readers)

    await asyncio.gather(
        *(
            one(name, urls[index % len(urls)])
            for name, urls in targets.items()
            for index in range(count)
        )
    )
    pipe.send("ready")
    while True:
        command, name = await asyncio.to_thread(pipe.recv)
        if command == "stop":
            break
        group = groups[name]
        group.round += 1
        group.receipts, group.expected = [], 2 * len(group.connections)
        group.complete.clear()
        group.armed = True
        pipe.send("armed")
        # A round that times out is reported short, and the parent fails it.
        with suppress(TimeoutError):
            await asyncio.wait_for(group.complete.wait(), RECEIPT_TIMEOUT)
        group.armed = False
        pipe.send(group.receipts)
    for group in groups.values():
        for websocket in group.connections:
            await websocket.close()
    for reader in readers:
        reader.cancel()


def _client_process(
    pipe: Connection, targets: dict[str, list[str]], key: str, task_id: str, count: int
) -> None:
    _raise_file_limit()
    asyncio.run(_client(pipe, targets, key, task_id, count))


# --- the parent -----------------------------------------------------------------------------


class _Clients:
    """The client processes of one case, driven round by round over pipes."""

    def __init__(self, targets: dict[str, list[str]], key: str, task_id: str, total: int) -> None:
        context = multiprocessing.get_context("spawn")
        shares = -(-total // CLIENT_SHARE)
        self.pipes: list[Connection] = []
        self.processes = []
        for index in range(shares):
            count = total // shares + (1 if index < total % shares else 0)
            parent, child = context.Pipe()
            process = context.Process(
                target=_client_process, args=(child, targets, key, task_id, count), daemon=True
            )
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    async def _all(self) -> list[Any]:
        return await asyncio.gather(*(asyncio.to_thread(pipe.recv) for pipe in self.pipes))

    async def ready(self) -> None:
        assert await self._all() == ["ready"] * len(self.pipes)

    async def arm(self, name: str) -> None:
        for pipe in self.pipes:
            pipe.send(("arm", name))
        assert await self._all() == ["armed"] * len(self.pipes)

    async def receipts(self) -> list[float]:
        return [moment for share in await self._all() for moment in share]

    def stop(self) -> None:
        for pipe in self.pipes:
            pipe.send(("stop", ""))
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latencies(sent: float, receipts: list[float], case: _Case, what: str) -> list[float]:
    """Milliseconds from `sent` to each receipt; a message that never came (the server
    dropped the connection, or it took longer than RECEIPT_TIMEOUT) counts as that long."""
    latencies = [(moment - sent) * 1000 for moment in receipts]
    missing = 2 * case.subscribers - len(latencies)
    if missing:
        print(f"S3 {case.subscribers} subs, {case.processes} proc, {what}: {missing} missing")
    return latencies + [RECEIPT_TIMEOUT * 1000] * missing


def _ws(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/graphql"


@dataclass
class _Case:
    subscribers: int
    processes: int
    p50: Figure
    p99: Figure
    request: Figure
    memory: Figure

    @classmethod
    def named(cls, subscribers: int, processes: int) -> _Case:
        where = f"{subscribers} subs, {processes} proc"
        bare = "bare websocket broadcast"
        return cls(
            subscribers,
            processes,
            Figure("S3", f"commit-to-receipt p50, {where}", "ms", False, baseline_name=bare),
            Figure("S3", f"commit-to-receipt p99, {where}", "ms", False, baseline_name=bare),
            Figure("S3", f"approving request, {where}", "ms", False, baseline_name="no subscriber"),
            Figure("S3", f"memory per idle connection, {where}", "KiB", False, baseline_name=bare),
        )

    def figures(self) -> list[Figure]:
        return [self.p50, self.p99, self.request, self.memory]


@dataclass
class _Approvals:
    """Submitted work to approve: on the followed task, and on a task no one follows."""

    key: str
    followed_task: str
    followed: Iterator[int]
    unfollowed: Iterator[int]


def _servers(stack: AsyncExitStack, env: dict[str, str], processes: int) -> list[Served]:
    return [stack.enter_context(product_process(env)) for _ in range(processes)]


async def _approve(http: httpx.AsyncClient, key: str, pk: int) -> float:
    started = time.monotonic()
    response = await http.post(
        "/graphql",
        json={"query": APPROVE, "variables": {"id": global_id("Submission", pk)}},
        headers={"Authorization": f"Bearer {key}"},
    )
    elapsed = time.monotonic() - started
    answer = response.json()["data"]["approveSubmission"]
    assert answer["userErrors"] == [] and answer["submission"]["state"] == "APPROVED", answer
    return elapsed * 1000


async def _case(case: _Case, env: dict[str, str], approvals: _Approvals, rounds: int) -> None:
    async with AsyncExitStack() as stack:
        products = _servers(stack, env, case.processes)
        bare = stack.enter_context(
            uvicorn_process(
                "bench.baselines.ws_broadcast:app",
                ("--ws", "websockets-sansio", "--ws-per-message-deflate", "false"),
                "/healthz",
            )
        )
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=products[0].base, timeout=120)
        )
        async with httpx.AsyncClient(base_url=bare.base, timeout=120) as poke:
            # Warm up: the first approval pays for imports and caches.
            await _approve(http, approvals.key, next(approvals.unfollowed))
            product_before = sum(server.rss_kib() for server in products)
            bare_before = bare.rss_kib()
            clients = _Clients(
                {"product": [_ws(s.base) for s in products], "bare": [_ws(bare.base)]},
                approvals.key,
                approvals.followed_task,
                case.subscribers,
            )
            try:
                await clients.ready()
                await asyncio.sleep(1)
                case.memory.product.append(
                    (sum(server.rss_kib() for server in products) - product_before)
                    / case.subscribers
                )
                case.memory.baseline.append((bare.rss_kib() - bare_before) / case.subscribers)
                for _ in range(rounds):
                    alone = await _approve(http, approvals.key, next(approvals.unfollowed))
                    await clients.arm("product")
                    sent = time.time()
                    followed = await _approve(http, approvals.key, next(approvals.followed))
                    product = _latencies(sent, await clients.receipts(), case, "product")
                    await clients.arm("bare")
                    sent = time.time()
                    await poke.post("/publish", json=BARE_PAYLOAD)
                    baseline = _latencies(sent, await clients.receipts(), case, "bare")
                    case.p50.product.append(statistics.median(product))
                    case.p50.baseline.append(statistics.median(baseline))
                    case.p99.product.append(_percentile(product, 0.99))
                    case.p99.baseline.append(_percentile(baseline, 0.99))
                    case.request.product.append(followed)
                    case.request.baseline.append(alone)
            finally:
                clients.stop()


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    _raise_file_limit()
    smoke = seconds < 1
    sizes = SMOKE_SIZES if smoke else SQLITE_SIZES if settings.is_sqlite else SIZES
    if os.environ.get("BENCH_S3_SIZES"):
        sizes = tuple(int(size) for size in os.environ["BENCH_S3_SIZES"].split(","))
    processes = (1, 2) if settings.redis_url and not settings.is_sqlite else (1,)
    cases = [_Case.named(n, p) for p in processes for n in sizes]
    per_case = rounds + 1
    principal, key = await data.funded_requester()
    workers = await data.workers(10)
    followed_task, followed = await data.task_with_submitted(
        principal, per_case * len(cases), workers
    )
    _, unfollowed = await data.task_with_submitted(principal, 2 * per_case * len(cases), workers)
    approvals = _Approvals(
        key, global_id("Task", followed_task.id), iter(followed), iter(unfollowed)
    )
    for case in cases:
        await _case(case, env, approvals, rounds)
    return [figure for case in cases for figure in case.figures()]
