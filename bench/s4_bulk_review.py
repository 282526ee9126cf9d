"""S4, bulk review: `bulkReviewSubmissions` approving 10,000 submissions of one task,
beside one UPDATE ... RETURNING plus the ledger rows (COPY) and the task's figures through
asyncpg in one transaction. The task's figures are checked against its ledger after."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg
import httpx

from bench import data
from bench.harness import Figure, product_server
from gql_server.models import LedgerEntry, Task
from gql_server.services import ledger
from gql_server.services.global_ids import global_id
from gql_server.settings import Settings

BULK = (
    "mutation ($ids: [ID!]!) { bulkReviewSubmissions(input: {submissionIds: $ids, "
    "decision: APPROVE}) { results { ok } userErrors { code message } } }"
)


async def _raw(pool: asyncpg.Pool, account_id: int, ids: list[int]) -> None:
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            "UPDATE submission SET state = 'APPROVED', reviewed_at = now(), "
            "paid_minor = reward_minor, auto_approve_at = NULL, version = version + 1 "
            "WHERE account_id = $1 AND state = 'SUBMITTED' AND id = ANY($2::bigint[]) "
            "RETURNING id, task_id, worker_id, reward_minor",
            account_id,
            ids,
        )
        await connection.copy_records_to_table(
            "ledger_entry",
            columns=[
                *("account_id", "task_id", "submission_id", "worker_id", "from_bucket"),
                *("to_bucket", "amount_minor", "reason", "actor_kind", "created_at"),
            ],
            records=[
                (
                    account_id,
                    *(row["task_id"], row["id"], row["worker_id"], "TASK_COMMITTED"),
                    *("TASK_SPENT", row["reward_minor"], "PAY", "MEMBER", datetime.now(UTC)),
                )
                for row in rows
            ],
        )
        total = sum(row["reward_minor"] for row in rows)
        await connection.execute(
            "UPDATE task SET committed_minor = committed_minor - $2, "
            "spent_minor = spent_minor + $2 WHERE id = $1 AND committed_minor >= $2",
            rows[0]["task_id"],
            total,
        )


async def run(
    settings: Settings, env: dict[str, str], rounds: int, seconds: float, clients: int
) -> list[Figure]:
    if settings.is_sqlite:
        print("S4 needs PostgreSQL (set DATABASE_URL): skipped")
        return []
    size = 10_000 if seconds >= 1 else 50
    principal, key = await data.funded_requester()
    people = await data.workers(100)
    figure = Figure(
        "S4", f"bulk review of {size:,}", "ms", False, baseline_name="UPDATE ... RETURNING + COPY"
    )
    pool = await asyncpg.create_pool(
        settings.database_url.replace("postgres://", "postgresql://", 1), min_size=1, max_size=2
    )
    tasks = []
    try:
        with product_server(env) as base:
            async with httpx.AsyncClient(base_url=base, timeout=300) as http:
                for _ in range(rounds):
                    task, ids = await data.task_with_submitted(principal, size, people)
                    tasks.append(task.id)
                    started = time.monotonic()
                    response = await http.post(
                        "/graphql",
                        json={
                            "query": BULK,
                            "variables": {"ids": [global_id("Submission", i) for i in ids]},
                        },
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    figure.product.append((time.monotonic() - started) * 1000)
                    answer = response.json()["data"]["bulkReviewSubmissions"]
                    assert answer["userErrors"] == [], answer
                    assert all(result["ok"] for result in answer["results"])
                    _, base_ids = await data.task_with_submitted(principal, size, people)
                    started = time.monotonic()
                    await _raw(pool, principal.account_id, base_ids)
                    figure.baseline.append((time.monotonic() - started) * 1000)
    finally:
        await pool.close()
    for task_id in tasks:
        figures = await ledger.task_figures_from_ledger(task_id)
        task = await Task.get(id=task_id)
        assert (task.committed_minor, task.spent_minor) == (
            figures.committed_minor,
            figures.spent_minor,
        ), "the task's figures differ from its ledger"
        assert await LedgerEntry.filter(task_id=task_id, reason="PAY").count() == size
    return [figure]
