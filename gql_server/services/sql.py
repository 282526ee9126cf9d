"""Raw SQL for the aggregates Tortoise's query builder cannot say, on both databases.

The same statement text serves SQLite and PostgreSQL but for what the dialects spell
differently, which is said here once: placeholders (`?` against `$1, $2...`) and the
time between two timestamps (SQLite stores them as ISO 8601 text, which `julianday`
reads, offset included).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient


def is_postgres(connection: BaseDBAsyncClient) -> bool:
    return connection.capabilities.dialect == "postgres"


class Params:
    """Placeholders in the dialect's style, numbered in the order values are added."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def add(self, value: Any, cast: str | None = None) -> str:
        """A placeholder for `value`; `cast` (a PostgreSQL type) where the database cannot
        tell the type from the context, as in a VALUES list."""
        self.values.append(value)
        if not self.postgres:
            return "?"
        return f"${len(self.values)}::{cast}" if cast else f"${len(self.values)}"

    def many(self, values: Iterable[Any]) -> str:
        return ", ".join(self.add(value) for value in values)


def micros_between(later: str, earlier: str, postgres: bool) -> str:
    """The whole microseconds from `earlier` to `later`, 0 when `later` is NULL: what the
    submission tallies sum (migration 0010 writes the same expression); on SQLite whole
    milliseconds, as far as `julianday` is exact."""
    if postgres:
        return f"COALESCE((EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000)::bigint, 0)"
    return (
        f"COALESCE(CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400000.0) "
        "AS INTEGER) * 1000, 0)"
    )


def duration_bin(later: str, earlier: str, postgres: bool) -> str:
    """The whole seconds from `earlier` to `later` kept to three significant figures (to
    the second below 1000, to ten seconds below 10,000, ...): the submission duration
    tally's key (migration 0010 writes the same expression)."""
    if postgres:
        whole = f"floor(EXTRACT(EPOCH FROM ({later} - {earlier})))::bigint"
    else:
        whole = f"CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3) AS INTEGER)"
    steps = " ".join(
        f"WHEN {whole} < {10 ** (digits + 3)} THEN {whole} - {whole} % {10**digits}"
        for digits in range(1, 6)
    )
    return f"(CASE WHEN {whole} < 1000 THEN {whole} {steps} ELSE {whole} - {whole} % 1000000 END)"


def quarter_hour(column: str, postgres: bool) -> str:
    """The UTC quarter hour a timestamp falls in, as the tallies key it (migration 0010
    writes the same): a timestamptz on PostgreSQL, ISO 8601 text in UTC on SQLite."""
    if postgres:
        return f"date_bin('15 minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    minute = f"(CAST(strftime('%M', {column}) AS INTEGER) / 15) * 2 + 1"
    return f"(strftime('%Y-%m-%d %H:', {column}) || substr('00153045', {minute}, 2) || ':00+00:00')"


def utc_day(column: str, postgres: bool) -> str:
    """The UTC date of a timestamp."""
    return f"({column} AT TIME ZONE 'UTC')::date" if postgres else f"date({column})"
