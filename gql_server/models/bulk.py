"""Rows written in bulk without a model object per row.

Building a Tortoise model object costs about 0.1 ms, which is most of the time of writing
ten thousand ledger or review rows; bulk paths insert plain tuples instead, a multi-row
INSERT per chunk, on the connection of the current transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from tortoise.connection import get_connection

# Rows per INSERT: far below SQLite's and PostgreSQL's limits on parameters per statement.
CHUNK = 1000


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


async def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """INSERT `rows` (each a value per column, in order) into `table`."""
    if not rows:
        return
    connection = get_connection("default")
    postgres = connection.capabilities.dialect == "postgres"
    names = ", ".join(f'"{column}"' for column in columns)
    width = len(columns)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        marks = []
        for index in range(len(chunk)):
            first = index * width
            places = (f"${first + n + 1}" if postgres else "?" for n in range(width))
            marks.append(f"({', '.join(places)})")
        values = [_plain(value) for row in chunk for value in row]
        await connection.execute_query(
            f'INSERT INTO "{table}" ({names}) VALUES {", ".join(marks)}', values
        )
