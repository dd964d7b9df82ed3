"""Money in integer minor units with ISO 4217 exponents; amounts as people type them.

Floats never touch money: an amount is parsed from text straight into an
``int`` of minor units (cents, yen, fils), and every sum stays an ``int``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mpos_cli.errors import UsageError

# EMV amount fields (9F02) are n12: twelve digits of minor units.
MAX_MINOR = 999_999_999_999

_AMOUNT = re.compile(r"(?P<units>[0-9]+)(?:[.,](?P<fraction>[0-9]*))?")
_PERCENT = re.compile(r"(?P<units>[0-9]{1,3})(?:[.,](?P<fraction>[0-9]{0,2}))?")


@dataclass(frozen=True)
class Currency:
    code: str
    numeric: str  # ISO 4217 numeric code, three digits (EMV tag 5F2A)
    exponent: int  # ISO 4217 minor units
    name: str


@lru_cache(maxsize=None)
def currency(code: str) -> Currency:
    """The ISO 4217 currency for ``code`` (case-insensitive), or a UsageError."""
    import pycountry
    from babel.numbers import get_currency_precision

    normalised = (code or "").strip().upper()
    entry = pycountry.currencies.get(alpha_3=normalised) if re.fullmatch(r"[A-Z]{3}", normalised) else None
    # X-codes are funds, metals and testing codes: nobody is paid in them at a stall.
    if entry is None or normalised.startswith("X"):
        raise UsageError(
            f"unknown currency {code!r}",
            hint="use an ISO 4217 code such as EUR, GBP, USD, JPY",
        )
    return Currency(
        code=normalised,
        numeric=entry.numeric,
        exponent=get_currency_precision(normalised),
        name=entry.name,
    )


def parse_amount(text: str, cur: Currency, *, allow_zero: bool = False) -> int:
    """Parse an amount typed by a person (``12.50``, ``12,50``, ``12``) into minor units.

    One separator, dot or comma, marks the decimals; thousands separators are
    refused rather than guessed (``1,000`` could be one thousand or one).
    """
    raw = (text or "").strip()
    match = _AMOUNT.fullmatch(raw)
    if not match:
        raise UsageError(
            f"not an amount: {text!r}",
            hint=f"type it like 12.50 or 12,50 ({cur.code})",
        )
    units, fraction = match["units"], match["fraction"] or ""
    if len(fraction) > cur.exponent:
        if cur.exponent == 0:
            raise UsageError(f"{cur.code} has no minor units: {text!r}", hint="type a whole amount such as 1500")
        raise UsageError(
            f"too many decimals in {text!r}",
            hint=f"{cur.code} has {cur.exponent} decimal places",
        )
    minor = int(units) * 10**cur.exponent + int(fraction.ljust(cur.exponent, "0") or "0")
    if minor == 0 and not allow_zero:
        raise UsageError(f"the amount must be more than zero: {text!r}")
    if minor > MAX_MINOR:
        raise UsageError(f"amount too large: {text!r}")
    return minor


def parse_percent_basis_points(text: str) -> int:
    """``"12.5"`` → 1250 basis points; 0 to 100 percent with at most two decimals."""
    match = _PERCENT.fullmatch((text or "").strip())
    if not match:
        raise UsageError(f"not a percentage: {text!r}", hint="type it like 10 or 12.5")
    points = int(match["units"]) * 100 + int((match["fraction"] or "").ljust(2, "0") or "0")
    if points > 10_000:
        raise UsageError(f"a tip of more than 100% is refused: {text!r}")
    return points


def percent_of(minor: int, basis_points: int) -> int:
    """Round half up, in integers."""
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
    """Human display with the currency's symbol, via babel (never via float)."""
    from decimal import Decimal

    from babel.numbers import format_currency

    return format_currency(Decimal(to_decimal_string(minor, cur)), cur.code, locale=locale)
