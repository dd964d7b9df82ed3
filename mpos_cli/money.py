"""Money in integer minor units with ISO 4217 exponents; amounts as people type them.

Floats never touch money: an amount is parsed from text straight into an
``int`` of minor units (cents, yen, fils), and every sum stays an ``int``.

Which currencies exist and how many minor units each has come from the ISO
4217 list itself ("list one", the current currencies, as shipped by the
``iso4217`` package from the ISO 4217 maintenance agency's XML file). CLDR
(babel) is used for display and for currency signs only: its digits are
those of everyday cash use and differ from ISO 4217 for HUF, IDR, COP, IQD
and a dozen more, and an EMV amount (9F02) counts ISO minor units.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from mpos_cli.errors import UsageError

# EMV amount fields (9F02) are n12: twelve digits of minor units.
MAX_MINOR = 999_999_999_999

# A number with at most one decimal separator, and optionally the currency's
# code or sign before or after it (spaces allowed in between): "12.50",
# "€5", "5 €", "EUR 5", "5EUR". Digits are ASCII only: a fullwidth or Arabic
# digit is refused, not guessed.
_TYPED = re.compile(r"(?P<before>[^0-9]*)(?P<units>[0-9]+)(?:[.,](?P<fraction>[0-9]*))?(?P<after>[^0-9]*)")
_PERCENT = re.compile(r"(?P<units>[0-9]{1,3})(?:[.,](?P<fraction>[0-9]{0,2}))?\s*%?")
_CODE = re.compile(r"[A-Za-z]{3}")

# Codes in the ISO list with numeric minor units that still name no money a
# customer pays with. The list flags funds codes (IsFund="true": BOV, CHE,
# CHW, CLF, COU, MXV, USN, UYI) and gives metals, bond units, the SDR, the
# SUCRE, the ADB unit and the testing codes no minor units ("N.A."); these
# two it does not mark, so they are named here.
_NOT_MONEY = {
    "UYW": "an index unit of Uruguay, not a currency to take payments in",
    "XAD": "a unit of account of the Arab Monetary Fund, not a currency to take payments in",
}


@dataclass(frozen=True)
class Currency:
    code: str
    numeric: str  # ISO 4217 numeric code, three digits (EMV tag 5F2A)
    exponent: int  # ISO 4217 minor units
    name: str


@dataclass(frozen=True)
class IsoEntry:
    """One code of the ISO 4217 list as published (minor units ``None`` for "N.A.")."""

    code: str
    numeric: str
    minor_units: int | None
    name: str
    is_fund: bool

    @property
    def refusal(self) -> str | None:
        """Why no payment can be taken in this code, or None if one can."""
        if self.is_fund:
            return "an ISO 4217 funds code, not a currency to take payments in"
        if self.minor_units is None:
            return ("not a currency to take payments in (ISO 4217 lists it without minor units:"
                    " a precious metal, a unit of account or a testing code)")
        return _NOT_MONEY.get(self.code)


@lru_cache(maxsize=1)
def iso4217_list() -> dict[str, IsoEntry]:
    """Every code of the current ISO 4217 list, as published, by alphabetic code.

    The list is the ISO maintenance agency's own XML (list one), as the
    ``iso4217`` package ships it. Its file is read directly: importing the
    package would also build its ``Currency`` enum, about 15 ms at every
    start for nothing mpos uses."""
    from importlib.util import find_spec
    from pathlib import Path
    from xml.etree import ElementTree

    spec = find_spec("iso4217")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the iso4217 package (ISO 4217 list one) is not installed")
    table = Path(next(iter(spec.submodule_search_locations)), "table.xml")
    entries: dict[str, IsoEntry] = {}
    for node in ElementTree.fromstring(table.read_bytes()).findall("CcyTbl/CcyNtry"):
        code = (node.findtext("Ccy") or "").strip()
        if not code or code in entries:  # one row per country; the currency is the same
            continue
        name_node = node.find("CcyNm")
        units = (node.findtext("CcyMnrUnts") or "").strip()
        entries[code] = IsoEntry(
            code=code,
            numeric=(node.findtext("CcyNbr") or "").strip(),
            minor_units=int(units) if units.isdigit() else None,
            name=(name_node.text or "").strip() if name_node is not None else code,
            is_fund=name_node is not None and name_node.get("IsFund") == "true",
        )
    return entries


@lru_cache(maxsize=None)
def currency(code: str) -> Currency:
    """The ISO 4217 currency for ``code`` (case-insensitive), or a UsageError."""
    normalised = (code or "").strip().upper()
    entry = iso4217_list().get(normalised) if _CODE.fullmatch(normalised) else None
    if entry is None:
        raise UsageError(
            f"unknown currency {code!r}",
            hint="use an ISO 4217 code such as EUR, GBP, USD, JPY",
        )
    if entry.refusal:
        raise UsageError(
            f"{entry.code} ({entry.name}) is {entry.refusal}",
            hint="use the code of the currency the customer pays in, such as EUR, USD, XOF",
        )
    return Currency(code=entry.code, numeric=entry.numeric, exponent=entry.minor_units or 0, name=entry.name)


def payable_codes() -> list[str]:
    """Every ISO 4217 code a payment can be taken in, sorted."""
    return sorted(code for code, entry in iso4217_list().items() if entry.refusal is None)


class CurrencyMismatch(UsageError):
    """The amount names a currency (``5 USD``, ``£3``) other than the one in effect."""

    def __init__(self, message: str, *, typed: tuple[str, ...], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.typed = typed  # the currency codes the typed sign or code can stand for


def parse_amount(text: str, cur: Currency, *, allow_zero: bool = False, locale: str | None = None) -> int:
    """Parse an amount typed by a person into minor units of ``cur``.

    ``12.50``, ``12,50``, ``12``; with the currency's code or sign before or
    after it, ``€5``, ``5€``, ``5 EUR``, ``EUR 5`` (the signs of ``locale``,
    of English and of the currency's own countries are known). A code or
    sign of another currency is refused with a hint (CurrencyMismatch).
    One separator, dot or comma, marks the decimals; thousands separators are
    refused rather than guessed (``1,000`` could be one thousand or one).
    """
    raw = (text or "").strip()
    match = _TYPED.fullmatch(raw)
    if not match or (match["before"].strip() and match["after"].strip()):
        raise UsageError(f"not an amount: {text!r}", hint=f"type it like 12.50 or 12,50 ({cur.code})")
    marker = (match["before"] + match["after"]).strip()
    if marker:
        _check_marker(marker, text, cur, locale)
    units, fraction = match["units"], match["fraction"] or ""
    if len(fraction) > cur.exponent:
        if cur.exponent == 0:
            raise UsageError(f"{cur.code} has no minor units: {text!r}", hint="type a whole amount such as 1500")
        raise UsageError(
            f"too many decimals in {text!r}",
            hint=f"{cur.code} has {cur.exponent} decimal places",
        )
    if len(units) > len(str(MAX_MINOR)):  # no need to build a huge int to refuse it
        raise UsageError(f"amount too large: {text!r}")
    minor = int(units) * 10**cur.exponent + int(fraction.ljust(cur.exponent, "0") or "0")
    if minor == 0 and not allow_zero:
        raise UsageError(f"the amount must be more than zero: {text!r}")
    if minor > MAX_MINOR:
        raise UsageError(f"amount too large: {text!r}")
    return minor


def _check_marker(marker: str, text: str, cur: Currency, locale: str | None) -> None:
    """Accept the code or a sign of ``cur``; refuse any other with a hint."""
    sign = _bare(marker)
    if sign == cur.code.casefold() or any(sign == _bare(known) for known in currency_signs(cur.code, locale)):
        return
    if marker in ("-", "−"):
        raise UsageError(f"a negative amount is not charged: {text!r}", hint="to give money back, use mpos refund")
    if _CODE.fullmatch(marker):
        other = marker.upper()
        entry = iso4217_list().get(other)
        if entry is not None and entry.refusal is not None:
            currency(other)  # raises, saying why
        if entry is not None:
            raise CurrencyMismatch(
                f"{text.strip()!r} is in {other}, but the currency is {cur.code}",
                typed=(other,), hint=f"use --currency {other}",
            )
    owners = _sign_owners(sign, locale)
    if owners:
        hint = f"use --currency {owners[0]}" if len(owners) == 1 else f"use --currency with one of {', '.join(owners)}"
        raise CurrencyMismatch(
            f"{marker!r} is not a sign of {cur.code}, the currency in effect", typed=owners, hint=hint,
        )
    raise UsageError(
        f"not an amount: {text!r}",
        hint=f"{marker!r} is not a sign of {cur.code}; type it like 12.50 or 12.50 {cur.code}",
    )


def _bare(sign: str) -> str:
    """A sign compared without spaces and case: 'F\u202fCFA' is 'fcfa' is 'FCFA'."""
    return "".join(sign.split()).casefold()


def currency_signs(code: str, locale: str | None = None) -> Iterator[str]:
    """The signs people write for ``code``: in ``locale``, in English, then in
    the languages of the countries whose legal tender it is (CLDR, via babel).

    A generator, so a match on the first, cheap, locales stops the search.
    """
    from babel import Locale
    from babel.core import UnknownLocaleError, get_global
    from babel.languages import get_official_languages

    def sign_in(name: str) -> str | None:
        try:
            return Locale.parse(name).currency_symbols.get(code)
        except (UnknownLocaleError, ValueError, TypeError):
            return None

    for name in (locale, "en"):
        if name and (found := sign_in(name)):
            yield found
    for territory, tenders in get_global("territory_currencies").items():
        if any(held == code and until is None and tender for held, _since, until, tender in tenders):
            for language in get_official_languages(territory):
                if found := sign_in(f"{language}_{territory}"):
                    yield found


def _sign_owners(sign: str, locale: str | None) -> tuple[str, ...]:
    """Which payable currencies write ``sign`` (bare), in ``locale`` or in English."""
    from babel import Locale
    from babel.core import UnknownLocaleError

    owners: list[str] = []
    for name in (locale, "en"):
        try:
            symbols = Locale.parse(name).currency_symbols if name else {}
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        for code, symbol in symbols.items():
            entry = iso4217_list().get(code)
            if _bare(symbol) == sign and entry is not None and entry.refusal is None and code not in owners:
                owners.append(code)
    return tuple(owners)


def parse_percent_basis_points(text: str, *, what: str = "a tip") -> int:
    """``"12.5"`` or ``"12.5%"`` → 1250 basis points; 0 to 100 percent with at most two decimals."""
    match = _PERCENT.fullmatch((text or "").strip())
    if not match:
        raise UsageError(f"not a percentage: {text!r}", hint="type it like 10, 10% or 12.5")
    points = int(match["units"]) * 100 + int((match["fraction"] or "").ljust(2, "0") or "0")
    if points > 10_000:
        raise UsageError(f"{what} of more than 100% is refused: {text!r}")
    return points


def percent_of(minor: int, basis_points: int) -> int:
    """``basis_points`` hundredths of a percent of ``minor``, to the nearest
    minor unit, an exact half rounded up; integers only, so never off by the
    float error of 0.1 (10% of 10.05 is 1.005 → 1.01)."""
    return (minor * basis_points + 5_000) // 10_000


def to_decimal_string(minor: int, cur: Currency) -> str:
    """``1250`` EUR → ``"12.50"``: exact, for CSV and JSON consumers."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    if cur.exponent == 0:
        return f"{sign}{minor}"
    units, fraction = divmod(minor, 10**cur.exponent)
    return f"{sign}{units}.{fraction:0{cur.exponent}d}"


def format_money(minor: int, cur: Currency, locale: str = "en_IE") -> str:
    """Human display with the currency's sign: babel's pattern for ``locale``,
    with exactly the ISO 4217 number of decimals (1500.50 HUF stays 1,500.50)."""
    return _format(minor, cur, locale, "standard")


def format_amount(minor: int, cur: Currency, locale: str = "en_IE") -> str:
    """Grouped for reading, no sign, exactly the ISO 4217 decimals: ``1,500.50``."""
    return _format(minor, cur, locale, None)


def _format(minor: int, cur: Currency, locale: str, pattern_type: str | None) -> str:
    from decimal import Decimal

    from babel import Locale
    from babel.numbers import parse_pattern

    where = Locale.parse(locale)
    # babel would take CLDR's digits (HUF 0); ISO 4217's are the money we hold.
    source = where.currency_formats[pattern_type].pattern if pattern_type else "#,##0"
    pattern = parse_pattern(source)
    pattern.frac_prec = (cur.exponent, cur.exponent)
    return pattern.apply(Decimal(to_decimal_string(minor, cur)), where, currency=cur.code, currency_digits=False)


def vat_included(gross_minor: int, basis_points: int) -> int:
    """The VAT contained in a VAT-inclusive ``gross_minor`` at ``basis_points``
    (2000 = 20 %): gross × rate / (1 + rate), to the nearest minor unit, an
    exact half rounded up; integers only (20 % of €12.00 gross is €2.00)."""
    divisor = 10_000 + basis_points
    return (2 * gross_minor * basis_points + divisor) // (2 * divisor)


def format_basis_points(basis_points: int) -> str:
    """``550`` → ``"5.5"``, ``2000`` → ``"20"``: a rate as people write it, exact."""
    units, hundredths = divmod(basis_points, 100)
    return f"{units}" if not hundredths else f"{units}.{hundredths:02d}".rstrip("0")
