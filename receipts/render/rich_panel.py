"""The receipt on a terminal: one calm panel, narrow like paper.

Everything is built from ``Text`` objects, never from markup strings, so a
note such as ``[bold]`` or ``[/]`` is shown as typed. Meaning never rests
on colour alone: the outcome is a word, and the SANDBOX marker is reverse
video, which stays visible with NO_COLOR.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from mpos_cli.receipts.model import Receipt, Row

if TYPE_CHECKING:
    from rich.console import RenderableType

DEFAULT_WIDTH = 44
_TONE_STYLES = {"positive": "bold green", "negative": "bold red", "neutral": "bold yellow"}


def rich_renderable(receipt: Receipt, *, width: int | None = None) -> "RenderableType":
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    def centred(text: str, style: str = "") -> Text:
        return Text(text, style=style, justify="center")

    def grid(rows: tuple[Row, ...], total: Row | None = None) -> Table:
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(style="dim", ratio=1)
        table.add_column(justify="right", overflow="fold")
        for row in rows:
            table.add_row(Text(row.label), Text(row.value))
        if total is not None:
            table.add_row(Text(total.label, style="bold"), Text(total.value, style="bold"))
        return table

    def sandbox_banner() -> list:
        if not receipt.sandbox_banner:
            return []
        parts = [centred(f"  {receipt.sandbox_banner}  ", "bold reverse")]
        if receipt.sandbox_notice:
            parts.append(centred(receipt.sandbox_notice, "italic"))
        return parts

    separator = Rule(style="dim")
    parts: list = sandbox_banner()
    parts.append(centred(receipt.merchant_name, "bold"))
    parts += [centred(line, "dim") for line in receipt.merchant_address]
    if receipt.merchant_rows:
        parts.append(grid(receipt.merchant_rows))
    parts.append(Text())
    heading = Text(justify="center")
    heading.append(receipt.title, style="bold")
    heading.append("  ")
    heading.append(receipt.outcome, style=_TONE_STYLES.get(receipt.tone, "bold"))
    parts.append(heading)
    parts.append(centred(receipt.timestamp, "dim"))
    parts.append(separator)
    if receipt.item_rows:
        parts.append(grid(receipt.item_rows))
        parts.append(separator)
    parts.append(grid(receipt.amount_rows, receipt.total))
    if receipt.vat_rows:
        parts.append(grid(receipt.vat_rows))
    if receipt.payment_rows:
        parts.append(separator)
        parts.append(grid(receipt.payment_rows))
    if receipt.card_rows or receipt.cvm:
        parts.append(separator)
        parts.append(grid(receipt.card_rows))
        if receipt.cvm:
            parts.append(Text(receipt.cvm))
    if receipt.signature_line:
        parts += [Text(), Text("Signature: " + "_" * 24)]
    parts.append(separator)
    parts.append(grid(receipt.authorisation_rows + receipt.reference_rows))
    if receipt.reason:
        parts.append(Text(f"Reason: {receipt.reason}"))
    if receipt.note:
        parts.append(Text(f"Note: {receipt.note}", style="italic"))
    parts.append(separator)
    parts.append(centred(receipt.statement))
    parts += sandbox_banner()
    return Panel(
        Group(*parts),
        box=box.ROUNDED,
        subtitle=Text(receipt.copy_label, style="dim"),
        width=width or DEFAULT_WIDTH,
        padding=(0, 1),
    )


def rich_text(receipt: Receipt, *, width: int | None = None, color: bool = False) -> str:
    """Render to a string with a private console: colour codes only when asked."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width or DEFAULT_WIDTH,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(rich_renderable(receipt, width=width))
    return buffer.getvalue()
