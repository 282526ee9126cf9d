"""S7, exports: `GET /export/submissions.csv` of an account's 1,000,000 pending
submissions from a real server, beside the same export of an account with 10,000 in the
same run and on the same server.

Both accounts are loaded by `data.load_work` (pending work only, over 10 tasks) into the
run's one database and checked against the ledger after. Each round downloads each size
once (the order alternates), reading the body as it arrives, and measures:

- the server's memory growth: its peak VmRSS while the download ran (sampled every 20 ms
  from /proc) over its VmRSS just before it; the goal is under 100 MB at 1,000,000 rows,
  which only holds if nothing keeps the rows (the server streams from a cursor);
- time to first byte: from sending the request to the first byte of the body (the CSV
  header); and time to the first row, the first byte after the header, which includes
  the database's first answer; the goal is a first byte under 1 second;
- the time of the whole download, and its rows per second.

The file is checked: one header and exactly as many rows as the account has pending.
A warm-up export of the small account comes first, so that imports and caches the first
request pays for are not counted as growth.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from bench import data
from bench.harness import Figure, Served, product_process
from gql_server.settings import Settings

SIZES = (10_000, 1_000_000)
SMOKE_SIZES = (200, 2_000)
WORKERS = 1_000
SAMPLE_SECONDS = 0.02


@dataclass
class _Download:
    growth_kib: int
    first_byte: float
    first_row: float
    seconds: float
    rows: int


async def _download(http: httpx.AsyncClient, server: Served, key: str) -> _Download:
    before = server.rss_kib()
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss_kib())
            await asyncio.sleep(SAMPLE_SECONDS)

    sampler = asyncio.create_task(sample())
    lines = 0
    first_byte = first_row = 0.0
    started = time.monotonic()
    try:
        async with http.stream(
            "GET", "/export/submissions.csv", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for chunk in response.aiter_raw():
                now = time.monotonic() - started
                if not first_byte:
                    first_byte = now
                lines += chunk.count(b"\r\n")
                if not first_row and lines > 1:
                    first_row = now
        seconds = time.monotonic() - started
    finally:
        done.set()
        await sampler
    peak = max(peak, server.rss_kib())
    return _Download(peak - before, first_byte, first_row, seconds, lines - 1)


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    sizes = SMOKE_SIZES if seconds < 1 else SIZES
    people = await data.workers(WORKERS)
    keys: dict[int, str] = {}
    loads = []
    for size in sizes:
        principal, key = await data.funded_requester()
        loaded = await data.load_work(principal, size, 0, people)
        print(f"S7: loaded {size:,} pending submissions in {loaded.seconds:.1f} s")
        loads.append((principal.account_id, loaded))
        keys[size] = key
    small, large = sizes
    growth = Figure(
        "S7",
        f"server memory growth exporting {large:,} rows (CSV)",
        "MB",
        False,
        baseline_name=f"{small:,} rows",
    )
    first_byte = Figure(
        "S7", f"time to first byte, {large:,} rows", "ms", False, baseline_name=f"{small:,} rows"
    )
    first_row = Figure(
        "S7", f"time to first row, {large:,} rows", "ms", False, baseline_name=f"{small:,} rows"
    )
    rate = Figure(
        "S7", f"rows/s exporting {large:,} rows", "rows/s", True, baseline_name=f"{small:,} rows"
    )
    with product_process(env) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=600) as http:
            await _download(http, server, keys[small])
            for turn in range(rounds):
                measured: dict[int, _Download] = {}
                for size in sizes if turn % 2 == 0 else sizes[::-1]:
                    measured[size] = got = await _download(http, server, keys[size])
                    assert got.rows == size, f"{got.rows} rows exported of {size}"
                    print(
                        f"S7: {size:,} rows in {got.seconds:.1f} s, first byte "
                        f"{got.first_byte * 1000:.0f} ms, first row {got.first_row * 1000:.0f} "
                        f"ms, growth {got.growth_kib / 1024:.1f} MB"
                    )
                for figure, value in (
                    (growth, lambda d: d.growth_kib / 1024),
                    (first_byte, lambda d: d.first_byte * 1000),
                    (first_row, lambda d: d.first_row * 1000),
                    (rate, lambda d: d.rows / d.seconds),
                ):
                    figure.product.append(value(measured[large]))
                    figure.baseline.append(value(measured[small]))
    for account_id, loaded in loads:
        await data.check_ledger(account_id, loaded)
    return [growth, first_byte, first_row, rate]
