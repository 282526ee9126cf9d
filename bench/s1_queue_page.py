"""S1, a queue page: `reviewQueue(first: 50)` with each submission's task and worker (about
ten fields a node) over 10,000 pending submissions, beside bare graphql-core executing the
same query over the same 50 rows held in memory, served the same way. Also counts the SQL
statements one page costs (Tortoise's statement log, in-process).

The latency is p50 under open-loop load (`harness.open_loop`, from the intended send
times) over 8 connections, at the same offered rate for both: LOAD_SHARE of the product's
capacity, probed first by a short closed loop from as many clients. So the two are
compared at one arrival rate that neither has to queue behind, rather than each at the
rate its own slowness allows."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx

from bench import data
from bench.harness import (
    Figure,
    closed_loop,
    open_loop,
    product_server,
    sql_statements,
    uvicorn_app,
)
from gql_server.settings import Settings

PAGE = """{ reviewQueue(first: 50) { edges { cursor node { id state submittedAt
  response { name value } reward { amount currency }
  task { id title reward { amount currency } } worker { id country } } }
  pageInfo { hasNextPage endCursor } } }"""
# The share of the product's probed capacity offered to both servers.
LOAD_SHARE = 0.6


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    size = 10_000 if seconds >= 1 else 100
    principal, key = await data.funded_requester()
    await data.task_with_submitted(principal, size, await data.workers(100))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = json.dumps({"query": PAGE})
    pages = max(1, clients // 2)

    async def page(http: httpx.AsyncClient) -> None:
        response = await http.post("/graphql", content=body, headers=headers)
        answer = response.json()
        assert not answer.get("errors") and len(answer["data"]["reviewQueue"]["edges"]) == 50

    with tempfile.TemporaryDirectory() as folder:
        rows_file = Path(folder) / "rows.json"
        with product_server(env) as product:
            async with httpx.AsyncClient(base_url=product, timeout=60) as http:
                answer = (await http.post("/graphql", content=body, headers=headers)).json()
            edges = answer["data"]["reviewQueue"]["edges"]
            rows_file.write_text(json.dumps([{**e["node"], "cursor": e["cursor"]} for e in edges]))
            with uvicorn_app(
                "bench.baselines.queue_graphql_core:app", {"BENCH_QUEUE_ROWS": str(rows_file)}
            ) as bare:
                probe = await closed_loop(pages, max(0.3, seconds / 2), page, product)
                rate = LOAD_SHARE * probe.rate
                print(f"S1: {probe.rate:.0f} pages/s from {pages} clients; offering {rate:.0f}/s")
                figure = Figure(
                    "S1",
                    f"queue page of 50 over {size:,} pending, p50 at {rate:.0f}/s offered",
                    "ms",
                    False,
                    baseline_name="graphql-core",
                )
                for _ in range(rounds):
                    mine = await open_loop(rate, seconds, page, product, pages)
                    theirs = await open_loop(rate, seconds, page, bare, pages)
                    figure.product.append(mine.percentile(0.5) * 1000)
                    figure.baseline.append(theirs.percentile(0.5) * 1000)
    statements = await sql_statements(settings, key, lambda: {"query": PAGE})
    print(f"S1: {statements} SQL statements per page")
    return [figure]
