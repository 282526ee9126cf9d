"""Custom scalars, registered with the schema through `SCALAR_MAP`."""

from __future__ import annotations

from datetime import date, datetime
from typing import NewType

import strawberry

from gql_server.clock import FIRST_YEAR, LAST_YEAR, holds_year

Decimal = NewType("Decimal", str)


def _parse_decimal(value: object) -> Decimal:
    # A JSON number would already have passed through a float: refuse it.
    if not isinstance(value, str):
        raise ValueError('Decimal values are strings, e.g. "12.50".')
    return Decimal(value)


def _in_range(year: int, kind: str) -> None:
    if not holds_year(year):
        raise ValueError(f"{kind} values are between the years {FIRST_YEAR} and {LAST_YEAR}.")


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError('DateTime values are ISO 8601 strings, e.g. "2026-12-01T09:30:00Z".')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f'{value!r} is not an ISO 8601 date and time, e.g. "2026-12-01T09:30:00Z".'
        ) from None
    # Without its offset a moment is ambiguous, and cannot be compared with the aware
    # ones the server holds.
    if moment.utcoffset() is None:
        raise ValueError(
            f'{value!r} has no UTC offset: add one, e.g. "2026-12-01T09:30:00Z" or "+02:00".'
        )
    _in_range(moment.year, "DateTime")
    return moment


def _parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError('Date values are ISO 8601 strings, e.g. "2026-12-01".')
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f'{value!r} is not an ISO 8601 date, e.g. "2026-12-01".') from None
    _in_range(day.year, "Date")
    return day


SCALAR_MAP = {
    datetime: strawberry.scalar(
        name="DateTime",
        description="Date and time with offset (ISO 8601), between the years 1900 and 9000.",
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_datetime,
    ),
    date: strawberry.scalar(
        name="Date",
        description="Date (ISO 8601), between the years 1900 and 9000.",
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_date,
    ),
    Decimal: strawberry.scalar(
        name="Decimal",
        description=(
            "An exact decimal amount as a string with exactly the currency's minor digits, "
            'e.g. "12.50" for USD or "1200" for JPY. Never a float.'
        ),
        serialize=str,
        parse_value=_parse_decimal,
    ),
}
