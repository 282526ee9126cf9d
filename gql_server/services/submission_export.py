"""The submissions export: the rows `reviewQueue(filter:)` lists, with everything a
requester keeps of them, streamed from the database row by row.

Invariants:
- The rows are exactly those `review_queue.review_queue` pages through for the same
  account and filter (`_where` spells its conditions in SQL; tests/exports compare the
  two), in its default order: oldest submitted first, then by id.
- Columns: the fixed ones of COLUMNS, with one `response.<name>` column per proof
  requirement name, inserted after `state`. For a filter that names a task, that task's
  requirements in their order; otherwise the union over every task of the account (in
  the order the tasks were created, then the requirements' order), one column per name;
  a submission's cell is empty where its task has no requirement of that name (or the
  worker sent nothing for it).
- Money is a Decimal string in the account's currency (the `currency` column), as the API
  spells it; times ISO 8601 in UTC; ids global ids.
- Memory stays constant whatever the number of rows. On PostgreSQL one query runs under
  a server-side cursor (in a read-only REPEATABLE READ transaction: one snapshot for the
  whole file) and rows are fetched PREFETCH at a time; on SQLite, keyset pages of
  PREFETCH rows, each its own query (SQLite has one connection per process, which a
  cursor held for a whole download would take from every other request).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from gql_server.models import Account, Submission, Task
from gql_server.services.global_ids import global_id
from gql_server.services.money import format_amount
from gql_server.services.review_queue import QueueFilter
from gql_server.tabular import Cell, Report

PREFETCH = 1000
RESPONSE_PREFIX = "response."
COLUMNS_BEFORE_RESPONSE = (
    "submission_id",
    "task_id",
    "task_title",
    "worker_id",
    "worker_name",
    "worker_country",
    "state",
)
COLUMNS_AFTER_RESPONSE = (
    "started_at",
    "submitted_at",
    "reviewed_at",
    "revision_count",
    "last_review_decision",
    "feedback",
    "reward",
    "paid",
    "currency",
    "audit_status",
    "audit_count",
)

# The last review's decision: the review_submission_created index answers it per row.
_SELECT = """SELECT s.id, s.task_id, t.title, s.worker_id, w.name, w.country, s.state,
  s.response, s.created_at, s.submitted_at, s.reviewed_at, s.revision_count,
  (SELECT r.decision FROM review r WHERE r.submission_id = s.id
   ORDER BY r.created_at DESC, r.id DESC LIMIT 1) AS last_decision,
  s.feedback, s.reward_minor, s.paid_minor, s.audit_status, s.audit_count
FROM submission s JOIN task t ON t.id = s.task_id JOIN worker w ON w.id = s.worker_id"""
_ORDER = " ORDER BY s.submitted_at, s.id"

_TIME = Submission._meta.fields_map["created_at"]
_JSON = Submission._meta.fields_map["response"]


class _Sql:
    """A statement's text and parameters, with the placeholders of the database's dialect."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgres"
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        # SQLite keeps times as text in UTC: compare in UTC, or the text order is wrong.
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else "?"


def _where(sql: _Sql, account_id: int, given: QueueFilter) -> str:
    # Placeholders are numbered in the order they are made: make them in the text's order.
    conditions = [f"s.account_id = {sql.param(account_id)}"]
    states = ", ".join(sql.param(state.value) for state in given.states) or "NULL"
    conditions += [f"s.state IN ({states})", "s.submitted_at IS NOT NULL"]
    if given.task_id is not None:
        conditions.append(f"s.task_id = {sql.param(given.task_id)}")
    if given.worker_id is not None:
        conditions.append(f"s.worker_id = {sql.param(given.worker_id)}")
    if given.submitted_after is not None:
        conditions.append(f"s.submitted_at >= {sql.param(given.submitted_after)}")
    if given.submitted_before is not None:
        conditions.append(f"s.submitted_at < {sql.param(given.submitted_before)}")
    return " WHERE " + " AND ".join(conditions)


async def _requirement_names(account_id: int, task_id: int | None) -> list[str]:
    tasks = Task.filter(account_id=account_id)
    if task_id is not None:
        tasks = tasks.filter(id=task_id)
    names: dict[str, None] = {}
    for requirements in await tasks.order_by("id").values_list("proof_requirements", flat=True):
        for requirement in requirements or []:
            names.setdefault(requirement["name"], None)
    return list(names)


def _time(raw: Any) -> str | None:
    value = _TIME.to_python_value(raw)
    return None if value is None else value.astimezone(UTC).isoformat()


def _row(raw: Sequence[Any], names: list[str], currency: Any) -> list[Cell]:
    (pk, task_id, title, worker_id, worker_name, country, state, response) = raw[:8]
    (started, submitted, reviewed, revisions, decision, feedback) = raw[8:14]
    (reward, paid, audit_status, audit_count) = raw[14:18]
    answers = _JSON.to_python_value(response) or {}
    return [
        global_id("Submission", pk),
        global_id("Task", task_id),
        title,
        global_id("Worker", worker_id),
        worker_name,
        country,
        state,
        *(answers.get(name) for name in names),
        _time(started),
        _time(submitted),
        _time(reviewed),
        revisions,
        decision,
        feedback,
        format_amount(reward, currency),
        format_amount(paid, currency),
        currency.value,
        audit_status,
        audit_count,
    ]


async def _postgres_rows(statement: str, params: list[Any]) -> AsyncGenerator[Sequence[Any], None]:
    client = connections.get("default")
    async with (
        client.acquire_connection() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        async for record in connection.cursor(statement, *params, prefetch=PREFETCH):
            yield tuple(record.values())


async def _sqlite_rows(
    dialect: str, account_id: int, given: QueueFilter
) -> AsyncGenerator[Sequence[Any], None]:
    client = connections.get("default")
    after: tuple[Any, int] | None = None
    while True:
        sql = _Sql(dialect)
        statement = _SELECT + _where(sql, account_id, given)
        if after is not None:
            later, same, pk = sql.param(after[0]), sql.param(after[0]), sql.param(after[1])
            statement += (
                f" AND (s.submitted_at > {later} OR (s.submitted_at = {same} AND s.id > {pk}))"
            )
        statement += f"{_ORDER} LIMIT {PREFETCH}"
        _, rows = await client.execute_query(statement, sql.params)
        for row in rows:
            yield tuple(row)
        if len(rows) < PREFETCH:
            return
        # The raw text of the last row's time, compared as stored.
        after = (rows[-1][9], rows[-1][0])


async def submissions_report(account_id: int, given: QueueFilter) -> Report:
    """The report of the module's docstring; its rows are read as the report is written."""
    names = await _requirement_names(account_id, given.task_id)
    currency = (await Account.get(id=account_id)).currency
    dialect = connections.get("default").capabilities.dialect

    async def rows() -> AsyncGenerator[Sequence[Cell], None]:
        if dialect == "postgres":
            sql = _Sql(dialect)
            source = _postgres_rows(_SELECT + _where(sql, account_id, given) + _ORDER, sql.params)
        else:
            source = _sqlite_rows(dialect, account_id, given)
        async with aclosing(source) as raw_rows:
            async for raw in raw_rows:
                yield _row(raw, names, currency)

    columns = [
        *COLUMNS_BEFORE_RESPONSE,
        *(RESPONSE_PREFIX + name for name in names),
        *COLUMNS_AFTER_RESPONSE,
    ]
    return Report(columns, rows())
