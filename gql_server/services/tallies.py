"""The tallies in the services (models/tallies.py says what they hold and why): each
described once (`Tally`, `tallies_of`), settling what the triggers wrote, cutting a period
into what a tally answers and what the rows must, and an operator's check and rebuild.

- `settle` folds unsettled rows into each key's settled row, in one statement per tally on
  PostgreSQL (DELETE ... RETURNING feeding an upsert), one transaction on SQLite; a
  report's snapshot sees either every row before it or every row after, so its sums are
  the same. One process settles at a time (an advisory lock); a row whose writer has not
  committed yet is not seen, and is settled by a later run.
- `split` cuts [start, end) into whole units (quarter hours, days) counted from ORIGIN,
  which a tally answers, and the edges before and after, which the rows answer.
- `check` compares each tally's sums with its source's by key; `rebuild` makes them again
  from the sources (`gql-server check-tallies [--rebuild]`), for a write that went past
  the triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.transactions import in_transaction

from gql_server.services.sql import (
    duration_bin,
    is_postgres,
    micros_between,
    quarter_hour,
    utc_day,
)

SLOT = timedelta(minutes=15)
DAY = timedelta(days=1)
# Where the units are counted from (PostgreSQL's date_bin origin in migration 0010).
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# Unsettled rows folded per tally and run: a run stays short beside the work.
SETTLE_BATCH = 20_000
_SETTLING_LOCK = 0x7A11E5


@dataclass(frozen=True)
class Tally:
    """A tally as migration 0010 made it: its table, the source it counts, which source
    rows count, and its key columns and measures with their expressions over a source row
    `r` (what the triggers write, in the services' words: `check` holds the two to each
    other)."""

    table: str
    source: str
    counted: str
    keys: dict[str, str]
    measures: dict[str, str]


def tallies_of(postgres: bool) -> tuple[Tally, ...]:
    kept = {
        "state": "r.state",
        "sent": "r.first_submitted_at IS NOT NULL",
        "revised": "r.revision_count > 0",
    }
    timed = {
        "starts": "1",
        "micros": micros_between("r.first_submitted_at", "r.created_at", postgres),
    }
    slot, day = quarter_hour("r.created_at", postgres), utc_day("r.created_at", postgres)
    moved = {"amount_minor": "r.amount_minor", "entries": "1"}
    return (
        Tally(
            "submission_slot_tally",
            "submission",
            "TRUE",
            {"account_id": "r.account_id", "task_id": "r.task_id", "slot": slot, **kept},
            timed,
        ),
        Tally(
            "submission_worker_day_tally",
            "submission",
            "TRUE",
            {"account_id": "r.account_id", "worker_id": "r.worker_id", "day": day, **kept},
            timed,
        ),
        Tally(
            "submission_duration_tally",
            "submission",
            "r.first_submitted_at IS NOT NULL",
            {
                "account_id": "r.account_id",
                "task_id": "r.task_id",
                "day": day,
                "seconds": duration_bin("r.first_submitted_at", "r.created_at", postgres),
            },
            {"starts": "1"},
        ),
        Tally(
            "ledger_slot_tally",
            "ledger_entry",
            "r.task_id IS NOT NULL",
            {
                "account_id": "r.account_id",
                "task_id": "r.task_id",
                "slot": slot,
                "to_bucket": "r.to_bucket",
                "reason": "r.reason",
            },
            moved,
        ),
        Tally(
            "ledger_worker_day_tally",
            "ledger_entry",
            "r.task_id IS NOT NULL AND r.worker_id IS NOT NULL",
            {
                "account_id": "r.account_id",
                "worker_id": "r.worker_id",
                "day": day,
                "to_bucket": "r.to_bucket",
            },
            moved,
        ),
    )


TABLES = tuple(tally.table for tally in tallies_of(False))


def _counted_sums(tally: Tally) -> str:
    """The source's sums by the tally's key, keys with nothing counted left out."""
    keys = ", ".join(f"{expr} AS {name}" for name, expr in tally.keys.items())
    sums = ", ".join(f"SUM({expr}) AS {name}" for name, expr in tally.measures.items())
    nonzero = " OR ".join(f"SUM({expr}) <> 0" for expr in tally.measures.values())
    groups = ", ".join(str(n + 1) for n in range(len(tally.keys)))
    return (
        f"SELECT {keys}, {sums} FROM {tally.source} r WHERE {tally.counted} "
        f"GROUP BY {groups} HAVING {nonzero}"
    )


def _tallied_sums(tally: Tally) -> str:
    """The tally's own sums by key (settled and unsettled rows together)."""
    names = ", ".join(tally.keys)
    sums = ", ".join(f"SUM({name}) AS {name}" for name in tally.measures)
    nonzero = " OR ".join(f"SUM({name}) <> 0" for name in tally.measures)
    return f"SELECT {names}, {sums} FROM {tally.table} GROUP BY {names} HAVING {nonzero}"


async def check() -> dict[str, int]:
    """For each tally, how many keys its sums and its source's disagree on (0: it holds).
    A full read of the sources: for an operator (`gql-server check-tallies`), not a
    request."""
    client = connections.get("default")
    found: dict[str, int] = {}
    for tally in tallies_of(is_postgres(client)):
        tallied, counted = _tallied_sums(tally), _counted_sums(tally)
        rows = await client.execute_query_dict(
            f"SELECT (SELECT COUNT(*) FROM ({tallied} EXCEPT {counted}) a) + "
            f"(SELECT COUNT(*) FROM ({counted} EXCEPT {tallied}) b) AS n"
        )
        found[tally.table] = int(rows[0]["n"])
    return found


async def rebuild() -> None:
    """Every tally made again from its source, settled, in one transaction: on PostgreSQL
    writers wait for it (the sources locked), so no write falls between the two."""
    client = connections.get("default")
    postgres = is_postgres(client)
    async with in_transaction() as connection:
        if postgres:
            await connection.execute_query(
                "LOCK TABLE submission, ledger_entry IN SHARE ROW EXCLUSIVE MODE"
            )
        for tally in tallies_of(postgres):
            columns = ", ".join([*tally.keys, *tally.measures])
            await connection.execute_query(f"DELETE FROM {tally.table}")
            await connection.execute_query(
                f"INSERT INTO {tally.table} ({columns}, settled) "
                f"SELECT *, TRUE FROM ({_counted_sums(tally)}) c"
            )


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
        for described in tallies_of(postgres):
            tally, keys, measures = described.table, described.keys, described.measures
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
