import pytest

from gql_server.models.enums import Currency
from gql_server.services.money import AmountError, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "minor"), [("0.00", 0), ("12.50", 1250), ("1000000.01", 100000001)]
)
def test_parse_amount_in_cents(text: str, minor: int) -> None:
    assert parse_amount(text, Currency.USD) == minor
    assert format_amount(minor, Currency.USD) == text


@pytest.mark.parametrize(
    "text", ["12.5", "12.505", "-1", "abc", "1e3", "", " 1.00", "01.00", "1.", ".50"]
)
def test_amounts_with_the_wrong_shape_are_refused(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, Currency.USD)


def test_zero_digit_currency() -> None:
    assert parse_amount("1200", Currency.JPY) == 1200
    assert format_amount(1200, Currency.JPY) == "1200"
    with pytest.raises(AmountError):
        parse_amount("12.00", Currency.JPY)
