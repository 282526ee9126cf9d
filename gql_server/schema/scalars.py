"""Custom scalars, registered with the schema through `SCALAR_MAP`."""

from __future__ import annotations

from typing import NewType

import strawberry

Decimal = NewType("Decimal", str)


def _parse_decimal(value: object) -> Decimal:
    # A JSON number would already have passed through a float: refuse it.
    if not isinstance(value, str):
        raise ValueError('Decimal values are strings, e.g. "12.50".')
    return Decimal(value)


SCALAR_MAP = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description=(
            "An exact decimal amount as a string with exactly the currency's minor digits, "
            'e.g. "12.50" for USD or "1200" for JPY. Never a float.'
        ),
        serialize=str,
        parse_value=_parse_decimal,
    )
}
