"""Amounts as people type them, in integer minor units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpos_cli.errors import UsageError
from mpos_cli.money import (
    MAX_MINOR, currency, format_money, parse_amount, parse_percent_basis_points, percent_of, to_decimal_string,
)

EUR, JPY, KWD = currency("EUR"), currency("JPY"), currency("KWD")


@pytest.mark.parametrize(
    "text, cur, minor",
    [("12.50", EUR, 1250), ("12,50", EUR, 1250), ("12", EUR, 1200), ("0.99", EUR, 99), ("12.5", EUR, 1250),
     (" 7 ", EUR, 700), ("1500", JPY, 1500), ("1.234", KWD, 1234), ("1,2", KWD, 1200), ("12.", EUR, 1200)],
)
def test_parses_what_people_type(text, cur, minor):
    assert parse_amount(text, cur) == minor


@pytest.mark.parametrize(
    "text", ["", " ", "-1", "+1", "1e3", "NaN", "inf", "0", "0.00", "12.345", "1,000.00", "1.000,00", "12.5.0",
             "１２", "١٢", "€12", "12 EUR", "0x10", "1_000", "9999999999999", "12\x00"],
)
def test_refuses_hostile_or_ambiguous_input(text):
    with pytest.raises(UsageError):
        parse_amount(text, EUR)


def test_yen_has_no_decimals():
    with pytest.raises(UsageError, match="no minor units"):
        parse_amount("15.50", JPY)


def test_unknown_and_non_money_currencies_are_refused():
    for code in ("ZZZ", "XAU", "XTS", "EURO", "", "€"):
        with pytest.raises(UsageError):
            currency(code)
    assert currency("gbp").code == "GBP" and currency("gbp").numeric == "826"


@given(st.integers(min_value=1, max_value=MAX_MINOR), st.sampled_from([EUR, JPY, KWD]), st.sampled_from([".", ","]))
def test_round_trip_through_the_decimal_string(minor, cur, separator):
    text = to_decimal_string(minor, cur).replace(".", separator)
    assert parse_amount(text, cur) == minor


@given(st.text(max_size=20))
def test_any_text_is_an_amount_or_a_usage_error(text):
    try:
        minor = parse_amount(text, EUR)
    except UsageError:
        return
    assert isinstance(minor, int) and 0 < minor <= MAX_MINOR


def test_percent_tip_rounds_half_up_in_integers():
    assert parse_percent_basis_points("12.5") == 1250
    assert percent_of(1999, 1000) == 200
    assert percent_of(1005, 1000) == 101  # 100.5 → 101
    with pytest.raises(UsageError):
        parse_percent_basis_points("101")


def test_formatting_is_exact():
    assert format_money(1250, EUR) == "€12.50"
    assert to_decimal_string(1234, KWD) == "1.234"
    assert to_decimal_string(-5, EUR) == "-0.05"
