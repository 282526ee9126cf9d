"""The tallies' two sides in the services: settling what the triggers wrote, and cutting a
period into what a tally answers and what the rows must (models/tallies.py says what the
tallies hold and why).

- `settle` folds unsettled rows into each key's settled row, in one statement per tally on
  PostgreSQL (DELETE ... RETURNING feeding an upsert), one transaction on SQLite; a
  report's snapshot sees either every row before it or every row after, so its sums are
  the same. One process settles at a time (an advisory lock); a row whose writer has not
  committed yet is not seen, and is settled by a later run.
- `split` cuts [start, end) into whole units (quarter hours, days) counted from ORIGIN, which a
  tally answers, and the edges before and after, which the rows answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.transactions import in_transaction

from gql_server.services.sql import is_postgres

SLOT = timedelta(minutes=15)
DAY = timedelta(days=1)
# Where the units are counted from (PostgreSQL's date_bin origin in migration 0010).
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# Unsettled rows folded per tally and run: a run stays short beside the work.
SETTLE_BATCH = 20_000
_SETTLING_LOCK = 0x7A11E5

# Each tally: its key columns and its measures (as migration 0010 made them).
TALLIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "submission_slot_tally": (
        ("account_id", "task_id", "slot", "state", "sent", "revised"),
        ("starts", "micros"),
    ),
    "submission_worker_day_tally": (
        ("account_id", "worker_id", "day", "state", "sent", "revised"),
        ("starts", "micros"),
    ),
    "submission_duration_tally": (
        ("account_id", "task_id", "day", "seconds"),
        ("starts",),
    ),
    "ledger_slot_tally": (
        ("account_id", "task_id", "slot", "to_bucket", "reason"),
        ("amount_minor", "entries"),
    ),
    "ledger_worker_day_tally": (
        ("account_id", "worker_id", "day", "to_bucket"),
        ("amount_minor", "entries"),
    ),
}


async def settle() -> int:
    """Fold up to SETTLE_BATCH unsettled rows of each tally; how many were folded."""
    client = connections.get("default")
    postgres = is_postgres(client)
    folded = 0
    async with in_transaction() as connection:
        if postgres:
            taken = await connection.execute_query_dict(
                f"SELECT pg_try_advisory_xact_lock({_SETTLING_LOCK}) AS taken"
            )
            if not taken[0]["taken"]:
                return 0
        for tally, (keys, measures) in TALLIES.items():
            names = ", ".join(keys)
            sums = ", ".join(f"SUM({m})" for m in measures)
            added = ", ".join(f"{m} = {tally}.{m} + excluded.{m}" for m in measures)
            upsert = (
                f"INSERT INTO {tally} ({names}, {', '.join(measures)}, settled) "
                f"SELECT {names}, {sums}, TRUE FROM {{rows}} WHERE TRUE GROUP BY {names} "
                f"ORDER BY {names} ON CONFLICT ({names}) WHERE settled DO UPDATE SET {added}"
            )
            batch = f"SELECT id FROM {tally} WHERE NOT settled ORDER BY id LIMIT {SETTLE_BATCH}"
            if postgres:
                rows = await connection.execute_query_dict(
                    f"WITH fresh AS (DELETE FROM {tally} WHERE id IN ({batch}) "
                    f"RETURNING {names}, {', '.join(measures)}), "
                    f"merged AS ({upsert.format(rows='fresh')} RETURNING 1) "
                    "SELECT COUNT(*) AS n FROM fresh"
                )
                folded += int(rows[0]["n"])
                continue
            # SQLite has one writer at a time: the bound read here holds until the commit.
            bound = await connection.execute_query_dict(
                f"SELECT MAX(id) AS last, COUNT(*) AS n FROM ({batch})"
            )
            if not bound[0]["n"]:
                continue
            last = int(bound[0]["last"])
            fresh = f"(SELECT * FROM {tally} WHERE NOT settled AND id <= {last})"
            await connection.execute_query(upsert.format(rows=fresh))
            await connection.execute_query(
                f"DELETE FROM {tally} WHERE NOT settled AND id <= {last}"
            )
            folded += int(bound[0]["n"])
    return folded


@dataclass(frozen=True)
class Split:
    """[start, end) as whole units [whole[0], whole[1]) and the edges around them."""

    whole: tuple[datetime, datetime | None] | None
    edges: tuple[tuple[datetime, datetime | None], ...]


def _floor(moment: datetime, unit: timedelta) -> datetime:
    return ORIGIN + ((moment - ORIGIN) // unit) * unit


def split(start: datetime, end: datetime | None, unit: timedelta) -> Split:
    """`end` None: no end (everything from `start` on)."""
    first = _floor(start, unit)
    if first < start:
        first += unit
    last = _floor(end, unit) if end is not None else None
    if last is not None and first >= last:
        return Split(None, ((start, end),))
    edges: list[tuple[datetime, datetime | None]] = []
    if start < first:
        edges.append((start, first))
    if last is not None and end is not None and last < end:
        edges.append((last, end))
    return Split((first, last), tuple(edges))
