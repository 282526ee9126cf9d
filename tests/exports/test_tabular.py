"""The writers of any report: the CSV dialect and its formula escape, JSON Lines, and the
first chunk handed on before any row is asked for."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncGenerator, Sequence

from gql_server.tabular import FORMULA_STARTS, Cell, Format, Report, chunks, unescape_cell

VALUES: list[Cell] = [
    *(start + "x" for start in FORMULA_STARTS),
    "x=1",
    "",
    None,
    True,
    7,
    'a "b", c\r\nd',
]


def _report(rows: list[list[Cell]], asked: list[int] | None = None) -> Report:
    async def generate() -> AsyncGenerator[Sequence[Cell], None]:
        for row in rows:
            if asked is not None:
                asked.append(1)
            yield row

    return Report([f"c{n}" for n in range(len(rows[0]) if rows else 1)], generate())


async def _text(report: Report, kind: Format) -> str:
    return "".join([chunk async for chunk in chunks(report, kind)])


async def test_csv_escapes_every_formula_start_and_reads_back() -> None:
    text = await _text(_report([VALUES]), Format.CSV)
    [header, row] = list(csv.reader(io.StringIO(text, newline="")))
    assert header == [f"c{n}" for n in range(len(VALUES))]
    starts = len(FORMULA_STARTS)
    assert row[:starts] == ["'" + start + "x" for start in FORMULA_STARTS]
    assert row[starts:] == ["x=1", "", "", "true", "7", 'a "b", c\r\nd']
    assert [unescape_cell(cell) for cell in row[:starts]] == VALUES[:starts]
    # RFC 4180 quoting: the field with quotes, a comma and a line break is quoted.
    assert '"a ""b"", c\r\nd"\r\n' in text


async def test_jsonl_keeps_raw_values() -> None:
    text = await _text(_report([VALUES, VALUES]), Format.JSONL)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 3
    assert json.loads(lines[0]) == {f"c{n}": value for n, value in enumerate(VALUES)}


async def test_the_first_chunk_leaves_before_any_row_is_asked_for() -> None:
    asked: list[int] = []
    csv_chunks = chunks(_report([["a"], ["b"]], asked), Format.CSV)
    assert await anext(csv_chunks) == "c0\r\n"
    assert asked == []
    assert await anext(csv_chunks) == "a\r\n"
    assert asked == [1]
    await csv_chunks.aclose()
    # JSON Lines: the first row is a chunk of its own.
    lines = chunks(_report([["a"], ["b"]]), Format.JSONL)
    assert await anext(lines) == '{"c0": "a"}\n'
    await lines.aclose()


async def test_a_report_without_rows_is_its_header() -> None:
    async def nothing() -> AsyncGenerator[Sequence[Cell], None]:
        return
        yield

    assert await _text(Report(["a", "b"], nothing()), Format.CSV) == "a,b\r\n"
    assert await _text(Report(["a", "b"], nothing()), Format.JSONL) == ""
