"""ESC/POS bytes for a thermal receipt printer, made with python-escpos.

The receipt is drawn on ``escpos.printer.Dummy``, python-escpos's printer
that keeps the bytes instead of sending them: rendering stays pure and
testable, and ``receipts.printer`` delivers the bytes to a device in one
write. The printer profile (python-escpos's capabilities database) decides
the line width, code pages, and whether the printer draws QR codes itself.

Text size is set with ``GS !`` (custom size) rather than ``ESC !``: ``ESC !``
also carries the emphasis bit, so switching the size back with it would
silently turn bold off in the middle of a line's styling.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from mpos_cli.receipts.model import Receipt
from mpos_cli.receipts.render.lines import Line, receipt_lines

QrMode = Literal["auto", "native", "image", "none"]

# Characters babel puts in amounts that few printer code pages hold: the
# no-break space (de_DE "12,50 €") and the narrow no-break space (fr_FR
# "1 234,50 €"). On paper a plain space looks the same.
_PRINTABLE = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


@dataclass(frozen=True)
class _Style:
    align: str = "left"
    bold: bool = False
    size: tuple[int, int] = (1, 1)  # width, height multipliers
    invert: bool = False


# After ESC @ the printer is left-aligned, not bold, normal size, not inverted.
_INITIAL = _Style()

_ROLE_STYLES: dict[str, _Style] = {
    "banner": _Style(align="center", bold=True, size=(2, 2), invert=True),
    "merchant": _Style(align="center", bold=True),
    "title": _Style(align="center", bold=True, size=(1, 2)),
    "outcome": _Style(align="center", bold=True),
    "total": _Style(bold=True, size=(1, 2)),
    "copy": _Style(align="center", bold=True),
}


def render_escpos(
    receipt: Receipt,
    *,
    columns: int | None = None,
    profile: str | None = None,
    qr: QrMode = "auto",
    cut: bool = True,
) -> bytes:
    """The receipt as ESC/POS bytes.

    ``columns`` defaults to the profile's font A width (42 for the default
    profile; 32 for 58 mm printers). ``qr`` prints the transaction id as a
    QR code: ``native`` with the printer's own ``GS ( k`` command, ``image``
    as a raster image drawn with segno (for printers without native QR),
    ``auto`` picks by the profile, ``none`` prints none.
    """
    from escpos.printer import Dummy

    printer = Dummy(profile=profile)
    width = columns or printer.profile.get_columns("a")
    printer.hw("INIT")
    current = _INITIAL
    for line in receipt_lines(receipt, width):
        current = _switch(printer, current, _style_of(line))
        # Double-width lines hold half as many characters; only the short banner uses it.
        printer.textln(line.text.translate(_PRINTABLE))

    mode = qr
    if mode == "auto":
        mode = "native" if printer.profile.supports("qrCode") else "image"
    if mode != "none":
        # ESC a centres 2D codes and raster images as it centres text.
        current = _switch(printer, current, _Style(align="center"))
        _print_qr(printer, receipt.transaction_id, native=mode == "native")
    _switch(printer, current, _INITIAL)
    if cut:
        printer.cut()
    return printer.output


def _style_of(line: Line) -> _Style:
    style = _ROLE_STYLES.get(line.role)
    if style is not None:
        return style
    return _Style(align=line.align)


def _switch(printer, current: _Style, wanted: _Style) -> _Style:
    """Send only the commands that change the printer's state."""
    changes: dict = {}
    if wanted.size != current.size:
        changes.update(custom_size=True, width=wanted.size[0], height=wanted.size[1])
    if wanted.bold != current.bold:
        changes["bold"] = wanted.bold
    if wanted.align != current.align:
        changes["align"] = wanted.align
    if wanted.invert != current.invert:
        changes["invert"] = wanted.invert
    if changes:
        printer.set(**changes)
    return wanted


def _print_qr(printer, content: str, *, native: bool) -> None:
    from escpos.constants import QR_ECLEVEL_M

    if native:
        # Model 2, 5-dot modules, level M: a transaction id fits version 1 (21 modules), about 13 mm
        # across at 203 dpi, which a phone camera reads at arm's length.
        printer.qr(content, ec=QR_ECLEVEL_M, size=5, native=True)
        printer.ln()
        return
    import segno
    from PIL import Image

    png = io.BytesIO()
    segno.make(content, error="m", micro=False).save(png, kind="png", scale=5, border=2)
    png.seek(0)
    printer.image(Image.open(png))
    printer.ln()
