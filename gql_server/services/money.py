"""Exact money: integer minor units inside, decimal strings with the currency's digits outside."""

from __future__ import annotations

import re

from gql_server.models.enums import Currency

MINOR_DIGITS: dict[Currency, int] = {
    Currency.USD: 2,
    Currency.EUR: 2,
    Currency.GBP: 2,
    Currency.JPY: 0,
}
# Far above any real task, far below where a 64-bit column could overflow in sums.
MAX_AMOUNT_MINOR = 10**15

# \Z, not $: "$" also matches before a trailing newline, and "1.00\n" is no amount.
_AMOUNT = re.compile(r"^(0|[1-9][0-9]*)(?:\.([0-9]+))?\Z")


class AmountError(ValueError):
    pass


def parse_amount(text: str, currency: Currency) -> int:
    """Parse a non-negative decimal string with exactly the currency's minor digits.

    "12.50" is 1250 cents; "12.5", "12.505", "-1", "1e3" and "abc" are refused, because a
    partner sending them has a bug we should surface, not round away.
    """
    digits = MINOR_DIGITS[currency]
    match = _AMOUNT.match(text)
    if match is None:
        example = "12" if digits == 0 else "12." + "5" + "0" * (digits - 1)
        raise AmountError(f"Amount must be a decimal number like {example!r}, got {text!r}.")
    whole, fraction = match.group(1), match.group(2)
    if digits == 0:
        if fraction is not None:
            raise AmountError(f"{currency} amounts have no decimals, got {text!r}.")
        fraction = ""
    elif fraction is None or len(fraction) != digits:
        raise AmountError(f"{currency} amounts need exactly {digits} decimals, got {text!r}.")
    value = int(whole) * 10**digits + (int(fraction) if fraction else 0)
    if value > MAX_AMOUNT_MINOR:
        raise AmountError(f"Amount {text!r} is larger than the maximum allowed.")
    return value


def format_amount(minor: int, currency: Currency) -> str:
    digits = MINOR_DIGITS[currency]
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    if digits == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{digits}d}"
