"""One renderer per format, and ``render`` to pick one by name.

Each renderer lives in its own module and imports its heavy library (rich,
python-escpos, segno) only when called, so importing ``receipts`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mpos_cli.receipts.model import Receipt

if TYPE_CHECKING:
    from rich.console import RenderableType

FORMATS = ("rich", "text", "html", "escpos")


def render(
    receipt: Receipt, format: str, *, width: int | None = None, profile: str | None = None
) -> "str | bytes | RenderableType":
    """The receipt in ``format``: str for text and html, bytes for escpos,
    a rich renderable for rich (print it on a Console, or use
    ``rich_text`` for the same layout as a string).

    ``width`` is the line width in columns (text, rich, escpos); each format
    has a sensible default, and escpos takes it from the printer profile.
    ``profile`` (escpos only) names the python-escpos printer profile, which
    also decides the code page; python-escpos's ``default`` when None.
    """
    if format == "text":
        from mpos_cli.receipts.render.plain_text import DEFAULT_WIDTH, render_text

        return render_text(receipt, width or DEFAULT_WIDTH)
    if format == "html":
        from mpos_cli.receipts.render.html_page import render_html

        return render_html(receipt)
    if format == "rich":
        from mpos_cli.receipts.render.rich_panel import rich_renderable

        return rich_renderable(receipt, width=width)
    if format == "escpos":
        from mpos_cli.receipts.render.escpos_bytes import render_escpos

        return render_escpos(receipt, columns=width, profile=profile)
    raise ValueError(f"unknown receipt format {format!r}; one of {', '.join(FORMATS)}")


def rich_text(receipt: Receipt, *, width: int | None = None, color: bool = False) -> str:
    """The rich layout as a string: box drawing, no escape codes unless ``color``."""
    from mpos_cli.receipts.render.rich_panel import rich_text as _rich_text

    return _rich_text(receipt, width=width, color=color)


__all__ = ["FORMATS", "render", "rich_text"]
