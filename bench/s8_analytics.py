"""S8, the account's analytics dashboard at scale: one `analytics` query over the whole
account for the last 70 days (the span `data.load_work` spreads its work over, by day)
(engagement with its percentiles, quality, money, the three distributions, the daily
buckets and the workers) and the budget plan, over 1,000,000
submissions (half pending, half approved) against 10,000 in the same run.

Loaded by `data.load_work`, one account per size in the run's database, one server
process for both. p50 of one client in a closed loop: the figure a dashboard's load
waits for. The goal (issue 14): under 1 second at 1,000,000 on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from bench import data
from bench.harness import Figure, closed_loop, product_server
from gql_server.settings import Settings

SIZES = (10_000, 1_000_000)
SMOKE_SIZES = (200, 1_000)
WORKERS = 1_000

DASHBOARD = """
query ($period: AnalyticsPeriodInput!) {
  analytics(period: $period) {
    engagement { views starts submitted abandoned viewRate completionRate
      timeToComplete { count mean median p90 } }
    quality { decided accepted rejected approvalRate firstAttemptApprovalRate revisionRate
      disputeCount disputeRate ratingCount meanClarity workers repeatWorkers }
    spending { spend { amount } bonuses { amount } approved costPerApprovedSubmission { amount } }
    byCountry { key count share }
    byHourOfDay { key count }
    byDayOfWeek { key count }
    buckets { start starts submitted accepted completionRate spend { amount } }
    workers { workerId submitted accepted approvalRate meanSecondsToComplete }
  }
  budgetPlan { taskId remaining { amount } daysToExhaustion }
}
"""

Request = Callable[[httpx.AsyncClient], Awaitable[None]]


def _dashboard(key: str, starts: int) -> Request:
    now = datetime.now(UTC)
    period = {
        "from": (now - data.PENDING_SPAN - data.COMPLETED_SPAN - timedelta(days=7)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps({"query": DASHBOARD, "variables": {"period": period}})

    async def dashboard(http: httpx.AsyncClient) -> None:
        answer = (await http.post("/graphql", content=body, headers=headers)).json()
        assert not answer.get("errors"), answer
        assert answer["data"]["analytics"]["engagement"]["starts"] == starts

    return dashboard


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    sizes = SMOKE_SIZES if seconds < 1 else SIZES
    people = await data.workers(WORKERS)
    dashboards: dict[int, Request] = {}
    loads: list[tuple[int, data.Loaded]] = []
    for size in sizes:
        principal, key = await data.funded_requester()
        loaded = await data.load_work(principal, size // 2, size // 2, people)
        print(f"S8: loaded {size:,} submissions in {loaded.seconds:.1f} s")
        loads.append((principal.account_id, loaded))
        dashboards[size] = _dashboard(key, size)
    smallest, largest = sizes[0], sizes[-1]
    p50: dict[int, list[float]] = {size: [] for size in sizes}
    with product_server(env) as base:
        for turn in range(rounds):
            for size in sizes if turn % 2 == 0 else tuple(reversed(sizes)):
                run_ = await closed_loop(1, max(seconds, 0.2), dashboards[size], base)
                p50[size].append(run_.percentile(0.5) * 1000)
    for account_id, loaded in loads:
        await data.check_ledger(account_id, loaded)
    return [
        Figure(
            "S8",
            f"analytics dashboard p50 over {largest:,} submissions",
            "ms",
            False,
            p50[largest],
            p50[smallest],
            f"{smallest:,} submissions",
        )
    ]
