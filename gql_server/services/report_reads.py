"""The reads of one report (analytics, a variant comparison, a budget plan): one snapshot of
the database, a bounded share of its connections, a time limit.

Invariants:
- Every statement of a report reads the same snapshot, so that its figures add up (the
  buckets' starts to the whole's, a rate's numerator to its denominator) while work goes
  on. PostgreSQL: a REPEATABLE READ READ ONLY transaction, whose snapshot the report's
  other connections import (`pg_export_snapshot`), so that its statements run side by
  side. SQLite: one transaction on its one connection.
- Reports never take the connections the work itself needs (starts, submissions,
  reviews): a process runs its reports on at most the pool's size less
  `KEPT_FOR_WORK` connections (at least one). A report takes one connection, waiting for
  it at most `QUEUE_SECONDS`, then gives up as `ReportsBusy`; it takes a second one for
  statements side by side only when one is free at once.
- On PostgreSQL a statement of a report stops after `STATEMENT_TIMEOUT_MS` and the report
  fails as `ReportTimedOut`, not the request: a report too large for its server is a
  clear answer, and its connection goes back to the pool. SQLite, the embedded default,
  has no such limit.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol, TypeVar

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from gql_server.services.sql import is_postgres

T = TypeVar("T")

KEPT_FOR_WORK = 2
CONNECTIONS_PER_REPORT = 2
QUEUE_SECONDS = 10.0
STATEMENT_TIMEOUT_MS = 30_000
# A report's sorts (percentiles) and hash tables stay in memory up to this, per node.
WORK_MEM = "32MB"


class ReportsBusy(Exception):
    """Every connection reports may use was busy for QUEUE_SECONDS."""

    retry_after_seconds = 5

    def __str__(self) -> str:
        return "This server is computing as many reports as it may at once; retry shortly."


class ReportTimedOut(Exception):
    """A statement of the report ran past STATEMENT_TIMEOUT_MS."""

    def __str__(self) -> str:
        return (
            f"The report took longer than {STATEMENT_TIMEOUT_MS // 1000} seconds; ask for a "
            "shorter period or a narrower scope."
        )


class Reads(Protocol):
    """Statements of one report, on its snapshot."""

    @property
    def postgres(self) -> bool: ...

    async def rows(self, sql: str, values: Sequence[Any]) -> list[dict[str, Any]]: ...


async def side_by_side(*statements: Awaitable[T]) -> list[T]:
    """The statements (or groups of them) run at once; when one fails the others are
    cancelled, and awaited, before its error is raised: nothing still runs on the
    report's connections when the report ends."""
    running = [asyncio.ensure_future(statement) for statement in statements]
    try:
        return list(await asyncio.gather(*running))
    except BaseException:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise


async def one(reads: Reads, sql: str, values: Sequence[Any]) -> dict[str, Any]:
    found = await reads.rows(sql, values)
    return found[0] if found else {}


class _PostgresReads:
    postgres = True

    def __init__(self, connections: list[asyncpg.Connection]) -> None:
        self._idle: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
        for connection in connections:
            self._idle.put_nowait(connection)

    async def rows(self, sql: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        connection = await self._idle.get()
        try:
            return [dict(row) for row in await connection.fetch(sql, *values)]
        except asyncpg.QueryCanceledError as error:
            raise ReportTimedOut from error
        finally:
            self._idle.put_nowait(connection)


class _SqliteReads:
    postgres = False

    def __init__(self, transaction: BaseDBAsyncClient) -> None:
        self._transaction = transaction

    async def rows(self, sql: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        return await self._transaction.execute_query_dict(sql, list(values))


class _Permits:
    """The connections this process's reports may hold at once."""

    def __init__(self, count: int) -> None:
        self._free = asyncio.Semaphore(count)

    async def take(self) -> None:
        if not self._free.locked():
            await self._free.acquire()
            return
        try:
            await asyncio.wait_for(self._free.acquire(), QUEUE_SECONDS)
        except TimeoutError:
            raise ReportsBusy from None

    async def take_if_free(self) -> bool:
        if self._free.locked():
            return False
        # A free semaphore is taken without suspending: nothing comes in between.
        await self._free.acquire()
        return True

    def give_back(self) -> None:
        self._free.release()


# One set per event loop (a semaphore belongs to the loop that first waits on it).
_permits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Permits] = (
    weakref.WeakKeyDictionary()
)


def _permits_for(client: BaseDBAsyncClient) -> _Permits:
    loop = asyncio.get_running_loop()
    permits = _permits.get(loop)
    if permits is None:
        pool = int(getattr(client, "pool_maxsize", 1)) if is_postgres(client) else 1
        permits = _permits[loop] = _Permits(max(1, pool - KEPT_FOR_WORK))
    return permits


@asynccontextmanager
async def snapshot() -> AsyncIterator[Reads]:
    """The reads of one report, on one snapshot (see the module)."""
    client = get_connection("default")
    permits = _permits_for(client)
    await permits.take()
    try:
        if not is_postgres(client):
            async with in_transaction() as transaction:
                yield _SqliteReads(transaction)
            return
        async with AsyncExitStack() as stack:
            leader = await stack.enter_async_context(client.acquire_connection())
            await _begin(stack, leader)
            exported = await leader.fetchval("SELECT pg_export_snapshot()")
            connections = [leader]
            while len(connections) < CONNECTIONS_PER_REPORT and await permits.take_if_free():
                stack.callback(permits.give_back)
                helper = await stack.enter_async_context(client.acquire_connection())
                await _begin(stack, helper, exported)
                connections.append(helper)
            yield _PostgresReads(connections)
    finally:
        permits.give_back()


async def _begin(
    stack: AsyncExitStack, connection: asyncpg.Connection, exported: str | None = None
) -> None:
    transaction = connection.transaction(isolation="repeatable_read", readonly=True)
    await transaction.start()
    # Read only: nothing to commit; ending it is all.
    stack.push_async_callback(transaction.rollback)
    if exported is not None:
        # The first statement of the transaction; the name is the server's own.
        await connection.execute(f"SET TRANSACTION SNAPSHOT '{exported.replace(chr(39), '')}'")
    await connection.execute(
        f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}; "
        f"SET LOCAL work_mem = '{WORK_MEM}'"
    )
