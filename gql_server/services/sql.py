"""Raw SQL for the aggregates Tortoise's query builder cannot say, on both databases.

The same statement text serves SQLite and PostgreSQL but for what the dialects spell
differently, which is said here once: placeholders (`?` against `$1, $2...`) and the
seconds between two timestamps (SQLite stores them as ISO 8601 text, which `julianday`
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


def seconds_between(later: str, earlier: str, postgres: bool) -> str:
    """The seconds from `earlier` to `later` (two timestamp expressions), as a float; on
    SQLite to the millisecond, as far as `julianday` is exact."""
    if postgres:
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"
