"""ESC/POS bytes for a thermal receipt printer, made with python-escpos.

The receipt is drawn on ``escpos.printer.Dummy``, python-escpos's printer
that keeps the bytes instead of sending them: rendering stays pure and
testable, and ``receipts.printer`` delivers the bytes to a device in one
write. The printer profile (python-escpos's capabilities database, config
key ``printer.profile``) decides the line width, the code page, and whether
the printer draws QR codes itself.

One code page for the whole receipt, selected with ``ESC t n`` right after
``ESC @`` (which puts the printer back on its default page, on most PC437,
which has no euro sign): PC858 (Epson page 19, "PC858: Euro") where the profile has it, else
WPC1252 (Epson page 16); both hold €, £ and ¥. python-escpos would
otherwise hunt per character through every page the profile lists and
print € through whichever comes first (ISO 8859-7, Greek), a page that
many printers do not have. Amounts whose currency symbol the page lacks
show the ISO 4217 code instead (``Receipt.with_printable_currency``).

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

# python-escpos's generic profile: Epson's page numbering, PC858 on page 19.
DEFAULT_PROFILE = "default"

# Code pages with the euro sign, best first (python-escpos names).
EURO_CODE_PAGES = ("CP858", "CP1252")

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

    printer = Dummy(profile=check_printer_profile(profile or DEFAULT_PROFILE))
    code_page = code_page_for(printer.profile)
    encoder = printer.magic.encoder
    receipt = receipt.with_printable_currency(
        lambda text: all(encoder.can_encode(code_page, char) for char in text.translate(_PRINTABLE))
    )
    width = columns or printer.profile.get_columns("a")
    printer.hw("INIT")
    # ESC t n, sent now and never changed: every character is encoded in this
    # one page (a character it lacks prints as "?").
    printer.charcode(code_page)
    current = _INITIAL
    for line in receipt_lines(receipt, width):
        current = _switch(printer, current, _style_of(line))
        # Double-width lines hold half as many characters; only the short banner uses it.
        printer.textln(line.text.translate(_PRINTABLE))

    mode = qr
    if mode == "auto":
        mode = "native" if printer.profile.supports("qrCode") else "image"
    if receipt.payment_qr:
        # A QR payment still to be paid: the code to pay with, always drawn by
        # segno (level M and UTF-8 bytes exactly, as EPC069-12 wants them).
        current = _switch(printer, current, _Style(align="center"))
        printer.textln("Scan with a banking app to pay")
        _print_payment_qr(printer, receipt.payment_qr)
    elif mode != "none":
        # ESC a centres 2D codes and raster images as it centres text.
        current = _switch(printer, current, _Style(align="center"))
        _print_qr(printer, receipt.transaction_id, native=mode == "native")
    _switch(printer, current, _INITIAL)
    if cut:
        printer.cut()
    return printer.output


def code_page_for(profile) -> str:
    """The code page a receipt is printed in on ``profile`` (a python-escpos profile).

    The first of ``EURO_CODE_PAGES`` the printer has; on a printer with
    neither, the page it starts with (page 0), where amounts in euros show
    ``EUR``.
    """
    from escpos.codepages import CodePages

    pages = profile.get_code_pages()  # name -> ESC t page number
    for name in EURO_CODE_PAGES:
        if name in pages:
            return name
    known = []
    for name, page in pages.items():
        try:
            CodePages.get_encoding(name)
        except KeyError:
            continue
        known.append((int(page), name))
    if not known:
        raise ValueError(f"printer profile {profile.profile_data.get('name')!r} lists no code page mpos can encode")
    return min(known)[1]


def printer_profiles() -> list[str]:
    """The printer profile names python-escpos knows (its capabilities.json).

    Read as JSON rather than through ``escpos.capabilities``, which parses
    the file as YAML and pickles it into a new temporary directory on every
    import: too slow for validating a setting at each start.
    """
    import json
    import os
    from importlib.util import find_spec

    # python-escpos's own override first, else the file it ships beside its modules.
    path = os.environ.get("ESCPOS_CAPABILITIES_FILE") or os.path.join(
        os.path.dirname(find_spec("escpos").origin), "capabilities.json"
    )
    with open(path, encoding="utf-8") as fh:
        return sorted(json.load(fh)["profiles"])


def check_printer_profile(name: str) -> str:
    """``name`` if python-escpos has a profile of that name, else a ValueError naming some."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("must be a printer profile name such as default, TM-T20II or TM-T88V")
    name = name.strip()
    known = printer_profiles()
    if name not in known:
        raise ValueError(f"unknown printer profile {name!r}; one of {', '.join(known)}")
    return name


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


def _print_payment_qr(printer, payload: str) -> None:
    """4-dot modules: an EPC code (version 6 or so, 41 modules) is about 21 mm
    across at 203 dpi, and fits 58 mm paper."""
    from PIL import Image

    from mpos_cli.qr import Drawing

    printer.image(Image.open(io.BytesIO(Drawing(payload).png(scale=4, border=2))))
    printer.ln()
