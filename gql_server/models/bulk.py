"""Rows written in bulk without a model object per row.

Building a Tortoise model object costs about 0.1 ms, which is most of the time of writing
ten thousand ledger or review rows; bulk paths insert plain tuples instead, on the
connection of the current transaction: on PostgreSQL one `INSERT ... SELECT FROM unnest()`
of a typed array per column (a handful of parameters, whatever the number of rows), on
SQLite a multi-row INSERT per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from tortoise.connection import get_connection

# Rows per INSERT: far below SQLite's and PostgreSQL's limits on parameters per statement.
CHUNK = 1000


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


async def insert_rows(
    table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]
) -> None:
    """INSERT `rows` (each a value per column, in order) into `table`; `columns` are
    (name, PostgreSQL type) pairs."""
    if not rows:
        return
    connection = get_connection("default")
    names = ", ".join(f'"{name}"' for name, _ in columns)
    if connection.capabilities.dialect == "postgres":
        arrays = ", ".join(f"${n + 1}::{kind}[]" for n, (_, kind) in enumerate(columns))
        values = [[_plain(row[n]) for row in rows] for n in range(len(columns))]
        await connection.execute_query(
            f'INSERT INTO "{table}" ({names}) SELECT * FROM unnest({arrays})', values
        )
        return
    width = len(columns)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        marks = [f"({', '.join('?' * width)})" for _ in chunk]
        values = [_plain(value) for row in chunk for value in row]
        await connection.execute_query(
            f'INSERT INTO "{table}" ({names}) VALUES {", ".join(marks)}', values
        )
