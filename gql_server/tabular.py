"""Tabular reports and the file formats they are written in: CSV and JSON Lines.

A report is its column names and an async iterator of rows (one value per column, in
column order); any report goes through either writer, so a new report (the analytics ones)
needs only a registration in `services/exports.py`, never a writer of its own.

Invariants:
- A cell is None, a bool, an int or a str; a report formats everything else itself (money
  as Decimal strings in the account's currency, times as ISO 8601 in UTC), so that both
  formats show the same text.
- CSV is RFC 4180: a header row, fields quoted when they hold a comma, a double quote, CR
  or LF (a quote doubled), rows ending in CRLF, UTF-8 without a byte-order mark. None is
  an empty field, a bool `true` or `false`.
- CSV is safe to open in a spreadsheet (OWASP, CSV Injection): a cell whose text starts
  with `=`, `+`, `-`, `@`, a tab or a carriage return, or with `'`, gets one `'` in front.
  Spreadsheets show such a cell as text, so nothing in it runs as a formula. Escaping the
  leading `'` too keeps the rule reversible: a cell that starts with `'` had exactly that
  one character added (`unescape_cell`). Header names are ours and never start so.
- JSON Lines: one JSON object per row (column name -> raw value, unescaped), each line
  ending in LF, UTF-8 (non-ASCII text as is).
- The writers hold at most one chunk of text (about CHUNK_CHARS) at a time. The CSV header
  is a chunk of its own, handed on before the first row is read (the first byte of a
  download leaves before the database answered); the first row is a chunk of its own too,
  so JSON Lines start at once as well.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from enum import StrEnum

Cell = None | bool | int | float | str
# Text collected before it is handed on: large enough that a million rows are a few
# thousand sends, small enough to be nothing in memory.
CHUNK_CHARS = 32_000
# The first characters a spreadsheet reads as the start of a formula (OWASP), and the
# escape character itself, so that the escape can be undone.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


@dataclass(frozen=True)
class Report:
    columns: Sequence[str]
    # A generator, so that a download that ends early (the client went away) closes it at
    # once, and with it whatever it holds (a database cursor and its connection).
    rows: AsyncGenerator[Sequence[Cell], None]


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8; header=present",
    Format.JSONL: "application/jsonl; charset=utf-8",
}


def escape_cell(text: str) -> str:
    """The CSV text of a cell: with a `'` in front when it could start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unescape_cell(text: str) -> str:
    """The value a CSV cell was written from (the inverse of `escape_cell`)."""
    return text[1:] if text.startswith("'") else text


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        # A number is no formula: -5 stays -5.
        return str(value)
    return escape_cell(value)


async def csv_chunks(report: Report) -> AsyncGenerator[str, None]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
    writer.writerow(report.columns)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    first = True
    async with aclosing(report.rows) as rows:
        async for row in rows:
            writer.writerow([_csv_text(value) for value in row])
            if first or buffer.tell() >= CHUNK_CHARS:
                first = False
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


async def jsonl_chunks(report: Report) -> AsyncGenerator[str, None]:
    columns = list(report.columns)
    lines: list[str] = []
    size = 0
    first = True
    async with aclosing(report.rows) as rows:
        async for row in rows:
            line = json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False) + "\n"
            lines.append(line)
            size += len(line)
            if first or size >= CHUNK_CHARS:
                first = False
                yield "".join(lines)
                lines, size = [], 0
    if lines:
        yield "".join(lines)


WRITERS = {Format.CSV: csv_chunks, Format.JSONL: jsonl_chunks}


def chunks(report: Report, kind: Format) -> AsyncGenerator[str, None]:
    """The report's text in `kind`, chunk by chunk."""
    return WRITERS[kind](report)
