"""The baseline of S1: bare graphql-core executing the queue page's query over the same rows
held in memory, behind Starlette and uvicorn like the product (no database, no ORM, no
Strawberry). The rows come from the JSON file named by BENCH_QUEUE_ROWS.

    BENCH_QUEUE_ROWS=rows.json uvicorn bench.baselines.queue_graphql_core:app
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from graphql import build_schema, graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SCHEMA = build_schema(
    """
    type Query { reviewQueue(first: Int): SubmissionConnection! }
    type SubmissionConnection { edges: [SubmissionEdge!]! pageInfo: PageInfo! }
    type SubmissionEdge { cursor: String! node: Submission! }
    type PageInfo { hasNextPage: Boolean! endCursor: String }
    type Submission {
      id: ID! state: String! submittedAt: String response: [ProofValue!] reward: Money!
      task: Task! worker: Worker!
    }
    type ProofValue { name: String! value: String! }
    type Money { amount: String! currency: String! }
    type Task { id: ID! title: String! reward: Money! }
    type Worker { id: ID! country: String! }
    """
)
ROWS: list[dict[str, Any]] = (
    json.loads(Path(os.environ["BENCH_QUEUE_ROWS"]).read_text())
    if os.environ.get("BENCH_QUEUE_ROWS")
    else []
)


def _page(_info: Any, first: int = 20) -> dict[str, Any]:
    edges = [{"cursor": row["cursor"], "node": row} for row in ROWS[:first]]
    return {
        "edges": edges,
        "pageInfo": {"hasNextPage": True, "endCursor": edges[-1]["cursor"] if edges else None},
    }


async def endpoint(request: Request) -> JSONResponse:
    if request.method == "GET":
        return JSONResponse({"data": {"__typename": "Query"}})
    body = await request.json()
    result = await graphql(SCHEMA, body["query"], root_value={"reviewQueue": _page})
    return JSONResponse(
        {"data": result.data, "errors": [str(e) for e in result.errors or []] or None}
    )


app = Starlette(routes=[Route("/graphql", endpoint, methods=["GET", "POST"])])
