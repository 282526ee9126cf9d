"""The invariants of the money, checked in SQL: an oracle that shares nothing with the
services, the models or the ORM, for tests that drive the server from outside.

For each account given:
- every ledger row moves a positive amount along one of the movements the domain makes;
- the balance column equals the ledger's sum for the account's balance and is not negative;
- every task's committed, spent and remaining columns equal their ledger sums, none is
  negative, and the budget column is their sum;
- what was funded from outside equals the balance plus the budgets of all the tasks
  (money only moves between the account and its tasks after funding, and spent money
  stays in its task's budget).

`ledger_violations` returns one line per broken invariant, so a failing test shows all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise.connection import get_connection

from gql_server.services.ledger import MOVEMENTS

_ALLOWED = ", ".join(f"('{source}', '{target}')" for source, target in MOVEMENTS.values())


def _rows_sql(ids: str) -> str:
    return f"""
        SELECT id, account_id, from_bucket, to_bucket, amount_minor FROM ledger_entry
        WHERE account_id IN ({ids})
          AND (amount_minor <= 0 OR (from_bucket, to_bucket) NOT IN (VALUES {_ALLOWED}))
    """


def _accounts_sql(ids: str) -> str:
    return f"""
        WITH moves AS (
            SELECT account_id, to_bucket AS bucket, amount_minor AS amount
            FROM ledger_entry WHERE account_id IN ({ids})
            UNION ALL
            SELECT account_id, from_bucket, -amount_minor
            FROM ledger_entry WHERE account_id IN ({ids})
        )
        SELECT a.id, a.balance_minor,
               COALESCE(SUM(CASE WHEN m.bucket = 'ACCOUNT_BALANCE' THEN m.amount END), 0)
                   AS balance,
               -COALESCE(SUM(CASE WHEN m.bucket = 'EXTERNAL' THEN m.amount END), 0) AS funded,
               (SELECT COALESCE(SUM(t.budget_minor), 0) FROM task t WHERE t.account_id = a.id)
                   AS budgets
        FROM account a LEFT JOIN moves m ON m.account_id = a.id
        WHERE a.id IN ({ids})
        GROUP BY a.id, a.balance_minor
    """


def _tasks_sql(ids: str) -> str:
    return f"""
        WITH moves AS (
            SELECT task_id, to_bucket AS bucket, amount_minor AS amount
            FROM ledger_entry WHERE account_id IN ({ids}) AND task_id IS NOT NULL
            UNION ALL
            SELECT task_id, from_bucket, -amount_minor
            FROM ledger_entry WHERE account_id IN ({ids}) AND task_id IS NOT NULL
        )
        SELECT t.id, t.budget_minor, t.committed_minor, t.spent_minor, t.remaining_minor,
               COALESCE(SUM(CASE WHEN m.bucket = 'TASK_COMMITTED' THEN m.amount END), 0)
                   AS committed,
               COALESCE(SUM(CASE WHEN m.bucket = 'TASK_SPENT' THEN m.amount END), 0) AS spent,
               COALESCE(SUM(CASE WHEN m.bucket = 'TASK_REMAINING' THEN m.amount END), 0)
                   AS remaining
        FROM task t LEFT JOIN moves m ON m.task_id = t.id
        WHERE t.account_id IN ({ids})
        GROUP BY t.id, t.budget_minor, t.committed_minor, t.spent_minor, t.remaining_minor
    """


async def _query(sql: str) -> list[dict[str, Any]]:
    return list(await get_connection("default").execute_query_dict(sql))


async def ledger_violations(account_ids: Iterable[int]) -> list[str]:
    """Every broken invariant of the accounts' money, one line each (none when all hold)."""
    # The ids are integers, inlined so that one statement runs on both databases'
    # placeholder styles.
    ids = ", ".join(str(int(pk)) for pk in account_ids)
    found = [
        f"ledger row {row['id']} of account {row['account_id']}: {row['amount_minor']} "
        f"from {row['from_bucket']} to {row['to_bucket']}"
        for row in await _query(_rows_sql(ids))
    ]
    for row in await _query(_accounts_sql(ids)):
        column, summed = int(row["balance_minor"]), int(row["balance"])
        if column != summed or column < 0:
            found.append(f"account {row['id']}: balance {column}, its ledger says {summed}")
        funded, held = int(row["funded"]), column + int(row["budgets"])
        if funded != held:
            found.append(f"account {row['id']}: funded {funded}, balance and budgets {held}")
    for row in await _query(_tasks_sql(ids)):
        columns = tuple(int(row[f"{name}_minor"]) for name in ("committed", "spent", "remaining"))
        summed = tuple(int(row[name]) for name in ("committed", "spent", "remaining"))
        if columns != summed or min(columns) < 0 or int(row["budget_minor"]) != sum(columns):
            found.append(
                f"task {row['id']}: budget {row['budget_minor']} and (committed, spent, "
                f"remaining) {columns}, its ledger says {summed}"
            )
    return found
