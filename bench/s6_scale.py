"""S6, the same requests at scale: the review queue page of S1 and the audit report, each
over an account with 10,000, 100,000 and 1,000,000 pending submissions and as many
approved ones (one in 20 audited), every size against the 10,000 one in the same run.

All the sizes live in the one database of the run, one account each (an account's page
and report see only its own work), loaded once by `data.load_work` and checked against
the ledger after; one server process answers every size, so the sizes share its caches
and the database's, as the accounts of one deployment do. Rounds interleave the sizes, in
an order that rotates each round. The sizes are the same on SQLite and PostgreSQL (a
million of each kind loads in two to three minutes on either).

- The page (`reviewQueue(first: 50)`, S1's query): its latency under open-loop load at
  one rate for every size, about 60% of the smallest size's capacity measured by a short
  closed-loop probe; p50 from the intended send times (`harness.open_loop`). The goal is
  "the same cost at 10k, 100k and 1M pending": a keyset page reads 51 rows of an index
  whatever the queue's length, so each ratio to the smallest size should stay near 1.
  The same for the page after the queue's middle (`after:` a cursor there), which is
  what a reviewer working through the queue asks for, and where a keyset predicate the
  index cannot start at costs as much as the rows before it.
- The report (`auditReport`, no filter: the whole account's completed work): p50 of one
  client in a closed loop. It counts every completed submission of the account, so its
  cost grows with the size by nature (an index-only scan of the account's completed
  work); its audited, defective and outcome counts read only the audited share, by the
  index `submission_account_audited`. The figure says how much the whole grows.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx

from bench import data
from bench.harness import Figure, closed_loop, open_loop, product_server
from bench.s1_queue_page import PAGE
from gql_server.models import Submission
from gql_server.models.enums import SubmissionState
from gql_server.services.pagination import SortKey, encode_cursor
from gql_server.settings import Settings

SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (200, 500, 1_000)
# The share of the probed capacity offered in the open loop: high enough to load the
# server, low enough that the smallest size does not queue.
LOAD_SHARE = 0.6
WORKERS = 1_000

AUDIT_REPORT = """{ auditReport { completedCount auditedCount defectiveCount
  counts { audits accepted fixed rejected } defectRate defectRateInterval { low high } } }"""

PAGE_AFTER = "query ($after: String) " + PAGE.replace(
    "reviewQueue(first: 50)", "reviewQueue(first: 50, after: $after)"
)

Request = Callable[[httpx.AsyncClient], Awaitable[None]]


async def _middle(account_id: int, pending: int) -> str:
    """The cursor of the account's queue at its middle (the queue's order: oldest first)."""
    row = (
        await Submission.filter(account_id=account_id, state=SubmissionState.SUBMITTED)
        .order_by("submitted_at", "id")
        .offset(pending // 2)
        .first()
    )
    assert row is not None
    return encode_cursor(row, SortKey("submitted_at", descending=False))


def _page(key: str, after: str | None = None) -> Request:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps(
        {"query": PAGE} if after is None else {"query": PAGE_AFTER, "variables": {"after": after}}
    )

    async def page(http: httpx.AsyncClient) -> None:
        answer = (await http.post("/graphql", content=body, headers=headers)).json()
        assert not answer.get("errors") and len(answer["data"]["reviewQueue"]["edges"]) == 50

    return page


def _report(key: str, completed: int) -> Request:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps({"query": AUDIT_REPORT})

    async def report(http: httpx.AsyncClient) -> None:
        answer = (await http.post("/graphql", content=body, headers=headers)).json()
        assert not answer.get("errors"), answer
        assert answer["data"]["auditReport"]["completedCount"] == completed

    return report


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    sizes = SMOKE_SIZES if seconds < 1 else SIZES
    people = await data.workers(WORKERS)
    pages: dict[int, Request] = {}
    deep_pages: dict[int, Request] = {}
    reports: dict[int, Request] = {}
    loads: list[tuple[int, data.Loaded]] = []
    for size in sizes:
        principal, key = await data.funded_requester()
        loaded = await data.load_work(principal, size, size, people)
        print(
            f"S6: loaded {size:,} pending and {size:,} approved submissions "
            f"({loaded.audited:,} audited) in {loaded.seconds:.1f} s"
        )
        loads.append((principal.account_id, loaded))
        pages[size], reports[size] = _page(key), _report(key, size)
        deep_pages[size] = _page(key, await _middle(principal.account_id, size))
    smallest, larger = sizes[0], sizes[1:]
    connections = max(1, clients // 2)
    page_p50: dict[int, list[float]] = {size: [] for size in sizes}
    deep_p50: dict[int, list[float]] = {size: [] for size in sizes}
    report_p50: dict[int, list[float]] = {size: [] for size in sizes}
    with product_server(env) as base:
        probe = await closed_loop(connections, max(0.3, seconds / 2), pages[smallest], base)
        rate = LOAD_SHARE * probe.rate
        print(
            f"S6: {probe.rate:.0f} pages/s from {connections} clients at {smallest:,} "
            f"pending; offering {rate:.0f}/s"
        )
        for turn in range(rounds):
            shift = turn % len(sizes)
            for size in sizes[shift:] + sizes[:shift]:
                page = await open_loop(rate, seconds, pages[size], base, connections)
                page_p50[size].append(page.percentile(0.5) * 1000)
                deep = await open_loop(rate, seconds, deep_pages[size], base, connections)
                deep_p50[size].append(deep.percentile(0.5) * 1000)
                report = await closed_loop(1, seconds, reports[size], base)
                report_p50[size].append(report.percentile(0.5) * 1000)
    for account_id, loaded in loads:
        await data.check_ledger(account_id, loaded)
    return [
        *(
            Figure(
                "S6",
                f"queue page p50 at {size:,} pending, {rate:.0f}/s offered",
                "ms",
                False,
                page_p50[size],
                page_p50[smallest],
                f"{smallest:,} pending",
            )
            for size in larger
        ),
        *(
            Figure(
                "S6",
                f"queue page p50 after {size // 2:,} of {size:,} pending, {rate:.0f}/s offered",
                "ms",
                False,
                deep_p50[size],
                deep_p50[smallest],
                f"after {smallest // 2:,} of {smallest:,}",
            )
            for size in larger
        ),
        *(
            Figure(
                "S6",
                f"auditReport p50 over {size:,} approved",
                "ms",
                False,
                report_p50[size],
                report_p50[smallest],
                f"{smallest:,} approved",
            )
            for size in larger
        ),
    ]
