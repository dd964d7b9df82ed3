"""The fixed-width layout shared by the plain-text and ESC/POS renderers.

A receipt becomes a list of lines, each with a role (what it is) and an
alignment. Plain text pads the lines itself; ESC/POS leaves alignment and
emphasis to the printer. Both print the same words in the same order, so
what a customer reads in an e-mail matches the paper slip.
"""

from __future__ import annotations

import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Literal

from mpos_cli.receipts.model import Receipt, Row

Role = Literal[
    "banner",  # the big SANDBOX marker
    "banner_note",  # its small print
    "merchant",  # the merchant's name
    "title",  # SALE / REFUND / VOID
    "outcome",  # APPROVED / DECLINED ...
    "total",
    "rule",
    "signature",
    "copy",  # CUSTOMER COPY / MERCHANT COPY
    "body",
]
Align = Literal["left", "center"]

TEXT_WIDTHS = (32, 42)  # 58 mm and 80 mm paper, font A


@dataclass(frozen=True)
class Line:
    text: str
    role: Role = "body"
    align: Align = "left"


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a fixed-width device: wide East Asian characters take two."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def receipt_lines(receipt: Receipt, width: int) -> list[Line]:
    if width < 24:
        raise ValueError(f"a receipt needs at least 24 columns, not {width}")
    lines: list[Line] = []

    def add(text: str, role: Role = "body", align: Align = "left") -> None:
        lines.append(Line(text, role, align))

    def wrapped(text: str, role: Role = "body", align: Align = "left") -> None:
        for part in textwrap.wrap(text, width) or [""]:
            add(part, role, align)

    def rule(char: str = "-") -> None:
        add(char * width, "rule")

    def rows(items: tuple[Row, ...], role: Role = "body") -> None:
        for row in items:
            for text in justify_row(row, width):
                add(text, role)

    def sandbox_banner() -> None:
        if receipt.sandbox_banner:
            add(receipt.sandbox_banner, "banner", "center")
            # Narrower than the paper so plain text can draw its box around it.
            for part in textwrap.wrap(receipt.sandbox_notice or "", width - 4):
                add(part, "banner_note", "center")

    sandbox_banner()
    wrapped(receipt.merchant_name, "merchant", "center")
    for address_line in receipt.merchant_address:
        wrapped(address_line, align="center")
    rows(receipt.merchant_rows)
    rule("=")
    add(receipt.title, "title", "center")
    add(receipt.outcome, "outcome", "center")
    add(receipt.timestamp, align="center")
    rule()
    if receipt.item_rows:
        rows(receipt.item_rows)
        rule()
    rows(receipt.amount_rows)
    rows((receipt.total,), "total")
    rows(receipt.vat_rows)
    rule()
    if receipt.payment_rows:
        rows(receipt.payment_rows)
        rule()
    if receipt.card_rows or receipt.cvm:
        rows(receipt.card_rows)
        if receipt.cvm:
            wrapped(receipt.cvm)
        rule()
    if receipt.signature_line:
        add("")
        add("Signature: ".ljust(width, "_"), "signature")
        add("")
    if receipt.authorisation_rows:
        rows(receipt.authorisation_rows)
    rows(receipt.reference_rows)
    if receipt.reason:
        wrapped(f"Reason: {receipt.reason}")
    if receipt.note:
        wrapped(f"Note: {receipt.note}")
    rule()
    wrapped(receipt.statement, align="center")
    add(receipt.copy_label, "copy", "center")
    sandbox_banner()
    return lines


def justify_row(row: Row, width: int) -> list[str]:
    """``Label ....... value`` on one line, or the value right-aligned under its label."""
    gap = width - cell_width(row.label) - cell_width(row.value)
    if gap >= 1:
        return [row.label + " " * gap + row.value]
    lines = textwrap.wrap(row.label, width) or [""]
    for part in textwrap.wrap(row.value, width) or [""]:
        lines.append(" " * max(width - cell_width(part), 0) + part)
    return lines
