"""Amounts as people type them, in integer minor units of ISO 4217 currencies."""

from __future__ import annotations

from fractions import Fraction

import iso4217
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from mpos_cli.errors import ExitStatus, UsageError
from mpos_cli.money import (
    MAX_MINOR, CurrencyMismatch, currency, format_amount, format_money, parse_amount, parse_percent_basis_points,
    payable_codes, percent_of, to_decimal_string,
)

EUR, JPY, KWD, HUF, GBP, USD = (currency(code) for code in ("EUR", "JPY", "KWD", "HUF", "GBP", "USD"))


@pytest.mark.parametrize(
    "text, cur, minor",
    [("12.50", EUR, 1250), ("12,50", EUR, 1250), ("12", EUR, 1200), ("0.99", EUR, 99), ("12.5", EUR, 1250),
     (" 7 ", EUR, 700), ("1500", JPY, 1500), ("1.234", KWD, 1234), ("1,2", KWD, 1200), ("12.", EUR, 1200),
     ("€5", EUR, 500), ("5€", EUR, 500), ("5 €", EUR, 500), ("€ 5,20", EUR, 520), ("5 EUR", EUR, 500),
     ("EUR 5", EUR, 500), ("5eur", EUR, 500), ("£3.20", GBP, 320), ("$5", USD, 500), ("US$5", USD, 500),
     ("1500.50 HUF", HUF, 150050), ("1 Ft", HUF, 100), ("¥1500", JPY, 1500), ("KWD 1.234", KWD, 1234)],
)
def test_parses_what_people_type(text, cur, minor):
    assert parse_amount(text, cur) == minor


@pytest.mark.parametrize(
    "text", ["", " ", "-1", "+1", "1e3", "NaN", "inf", "0", "0.00", "12.345", "1,000.00", "1.000,00", "12.5.0",
             "１２", "١٢", "0x10", "1_000", "9999999999999", "12\x00", "€12€", "€ 12 EUR", "EUR12EUR", "€", "EUR",
             "€-5", "-€5", "5 €.", "12 50", "12 kr", "12 ZZZ", "12 XAU", "12 EURO", "12 E", "12 %", "€12,345",
             "12.50 EUR 1", "\u200f12", "12\u00a0\u00a0EUR\u00a0x"],
)
def test_refuses_hostile_or_ambiguous_input(text):
    with pytest.raises(UsageError):
        parse_amount(text, EUR)


def test_yen_has_no_decimals():
    with pytest.raises(UsageError, match="no minor units"):
        parse_amount("15.50", JPY)


def test_unknown_and_non_money_currencies_are_refused():
    for code in ("ZZZ", "XAU", "XTS", "EURO", "", "€", "ANG", "HRK", "DEM"):  # ANG, HRK, DEM: withdrawn
        with pytest.raises(UsageError):
            currency(code)
    assert currency("gbp").code == "GBP" and currency("gbp").numeric == "826"


def _iso_funds_codes() -> set[str]:
    """Codes the published ISO 4217 XML flags IsFund="true" (the package keeps the attribute in raw_xml)."""
    return {
        entry.findtext("Ccy") for entry in iso4217.raw_xml.findall("CcyTbl/CcyNtry")
        if entry.find("CcyNm") is not None and entry.find("CcyNm").get("IsFund") == "true"
    }


def test_every_active_iso_4217_code_has_its_iso_exponent_and_number():
    # Iterates the iso4217 package's own enumeration of the ISO list (its
    # Currency enum), not our reading of the XML, and not a hand list.
    funds = _iso_funds_codes()
    not_money = {"UYW", "XAD"}  # index unit and accounting unit the list does not flag (see money.py)
    checked = 0
    for iso in iso4217.Currency:
        if iso.exponent is None or iso.code in funds or iso.code in not_money:
            with pytest.raises(UsageError):
                currency(iso.code)
            continue
        ours = currency(iso.code)
        assert (ours.code, ours.exponent, ours.numeric) == (iso.code, iso.exponent, f"{iso.number:03d}"), iso
        checked += 1
    assert checked == len(payable_codes()) >= 150


# Minor units as published in ISO 4217 list one (the maintenance agency's
# "list_one.xml", published 2026-01-01), for the codes where CLDR's cash
# digits, which babel reports, differ: these were wrong before.
ISO_MINOR_UNITS_WHERE_CLDR_DIFFERS = {
    "AFN": 2, "ALL": 2, "COP": 2, "HUF": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2, "LAK": 2, "LBP": 2,
    "MGA": 2, "MMK": 2, "SOS": 2, "SYP": 2, "YER": 2,
}


def test_iso_exponents_where_cldr_differs():
    from babel.numbers import get_currency_precision

    for code, units in ISO_MINOR_UNITS_WHERE_CLDR_DIFFERS.items():
        assert currency(code).exponent == units
        assert get_currency_precision(code) != units  # why babel is not asked any more


@pytest.mark.parametrize(
    "code, numeric, exponent",
    # ISO 4217 list one: the CFA francs, the East Caribbean dollar, the CFP
    # franc and the Caribbean guilder (Curaçao and Sint Maarten since 2025).
    [("XOF", "952", 0), ("XAF", "950", 0), ("XCD", "951", 2), ("XPF", "953", 0), ("XCG", "532", 2)],
)
def test_regional_x_currencies_are_accepted(code, numeric, exponent):
    cur = currency(code.lower())
    assert (cur.code, cur.numeric, cur.exponent) == (code, numeric, exponent)


@pytest.mark.parametrize(
    "code",
    ["BOV", "CLF", "COU", "MXV", "USN", "UYI", "UYW", "CHE", "CHW",  # funds codes and index units
     "XAU", "XAG", "XPT", "XPD",  # precious metals
     "XTS", "XXX",  # testing, no currency
     "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA", "XAD"],  # SDR, bond market and accounting units
)
def test_funds_metals_testing_and_accounting_codes_are_refused_in_one_line(code):
    with pytest.raises(UsageError) as refused:
        currency(code)
    line = refused.value.one_line()
    assert refused.value.exit_status == ExitStatus.USAGE
    assert line.startswith(f"{code} (") and "not a currency to take payments in" in line and "\n" not in line


def test_hungarian_forint_has_filler():
    assert parse_amount("1", HUF) == 100
    assert parse_amount("1500.50", HUF) == 150050
    assert format_money(150050, HUF) == "HUF1,500.50"  # babel (CLDR digits) printed HUF1,500
    assert format_money(150050, HUF, "hu_HU") == "1\xa0500,50\xa0Ft"
    assert format_amount(150050, HUF) == "1,500.50" and format_amount(1500, JPY) == "1,500"


@pytest.mark.parametrize(
    "text, cur, hint",
    [("5 USD", EUR, "use --currency USD"), ("usd 5", EUR, "use --currency USD"), ("£3.20", EUR, "use --currency GBP"),
     ("$5", EUR, "use --currency USD"), ("€5", GBP, "use --currency EUR"), ("12.50 EUR", GBP, "use --currency EUR"),
     ("5 XOF", EUR, "use --currency XOF")],
)
def test_another_currency_is_refused_with_a_hint(text, cur, hint):
    with pytest.raises(CurrencyMismatch) as refused:
        parse_amount(text, cur)
    assert refused.value.one_line().endswith(hint)
    assert refused.value.exit_status == ExitStatus.USAGE


def test_a_non_money_code_in_the_amount_says_why():
    with pytest.raises(UsageError, match="XAU \\(Gold\\) is not a currency"):
        parse_amount("5 XAU", EUR)


def test_the_configured_locale_adds_its_signs():
    sek = currency("SEK")
    assert parse_amount("12,50 kr", sek) == 1250  # sv_SE, the currency's own country
    assert parse_amount("5 zł", currency("PLN")) == 500
    assert parse_amount("5 F\u202fCFA", currency("XOF")) == 5 == parse_amount("5 FCFA", currency("XOF"))
    assert parse_amount("Cg. 3.20", currency("XCG")) == 320


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


# Text built from what amounts are made of, so that hypothesis reaches the
# sign and code paths often (plain st.text rarely spells "EUR").
_PIECES = st.sampled_from(
    ["1", "0", "9", "12", ".", ",", " ", "\u00a0", "€", "£", "$", "¥", "EUR", "eur", "USD", "GBP", "XAU", "BOV",
     "kr", "Ft", "%", "-", "+", "e", "US$", "F\u202fCFA", "\x00", "١", "１", "¤"]
)


@given(st.lists(_PIECES, max_size=8).map("".join), st.sampled_from([EUR, JPY, KWD, HUF, GBP, USD]),
       st.sampled_from([None, "en_IE", "fr_FR", "de_CH", "ja_JP", "xx_YY"]))
@example("€5", EUR, "xx_YY")
def test_hostile_mixes_of_digits_signs_and_codes(text, cur, locale):
    try:
        minor = parse_amount(text, cur, locale=locale)
    except CurrencyMismatch as exc:
        assert cur.code not in exc.typed and exc.typed  # it names the other currency
        return
    except UsageError:
        return
    assert isinstance(minor, int) and 0 < minor <= MAX_MINOR
    # Accepted: no code or sign of another currency is in it.
    owners = {"EUR": "EUR", "USD": "USD", "GBP": "GBP", "XAU": None, "BOV": None, "€": "EUR", "£": "GBP", "$": "USD",
              "¥": "JPY", "¤": None, "KR": None, "CFA": None}
    for piece, owner in owners.items():
        if piece in text.upper():
            assert owner == cur.code, (text, cur.code)


@given(st.integers(min_value=1, max_value=99_999), st.sampled_from([EUR, JPY, KWD, HUF, GBP, USD]),
       st.sampled_from(["en_IE", "fr_FR", "de_DE", "hu_HU", "ja_JP", "en_US"]))
def test_what_mpos_prints_reads_back(minor, cur, locale):
    # Below a thousand units the display has no grouping, so it is something a person could type back.
    assume(minor < 1000 * 10**cur.exponent)
    shown = format_money(minor, cur, locale)
    assert parse_amount(shown, cur, locale=locale) == minor, shown


@given(st.integers(min_value=1, max_value=MAX_MINOR), st.sampled_from([EUR, JPY, KWD, HUF]),
       st.sampled_from(["{n} {c}", "{c} {n}", "{n}{c}", "{c}{n}", "{n}\u00a0{c}"]), st.booleans())
def test_the_code_before_or_after_changes_nothing(minor, cur, layout, lower):
    code = cur.code.lower() if lower else cur.code
    assert parse_amount(layout.format(n=to_decimal_string(minor, cur), c=code), cur) == minor


def test_percent_tip_rounds_half_up_in_integers():
    assert parse_percent_basis_points("12.5") == 1250
    assert parse_percent_basis_points("10%") == parse_percent_basis_points(" 10 % ") == 1000
    assert parse_percent_basis_points("12,5%") == 1250
    assert percent_of(1999, 1000) == 200
    assert percent_of(1005, 1000) == 101  # 100.5 → 101
    for text in ("101", "101%", "10%%", "%10", "-5%", "10 percent", "1e1", "", "%"):
        with pytest.raises(UsageError):
            parse_percent_basis_points(text)


@given(st.integers(min_value=0, max_value=MAX_MINOR), st.integers(min_value=0, max_value=10_000))
def test_percent_is_the_exact_share_rounded_half_up(minor, basis_points):
    exact = Fraction(minor * basis_points, 10_000)
    rounded = percent_of(minor, basis_points)
    assert rounded - Fraction(1, 2) <= exact < rounded + Fraction(1, 2)


def test_formatting_is_exact():
    assert format_money(1250, EUR) == "€12.50"
    assert to_decimal_string(1234, KWD) == "1.234"
    assert to_decimal_string(-5, EUR) == "-0.05"
