"""The rich receipt, the format dispatcher, and the cost of importing receipts."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from mpos_cli.receipts import FORMATS, build_receipt, render, rich_text

REPO = Path(__file__).resolve().parents[2]


def test_rich_receipt_reads_well_without_colour(contactless_sale, merchant):
    text = rich_text(build_receipt(contactless_sale, **merchant))
    assert "\x1b[" not in text  # no escape codes at all when colour is off
    lines = text.splitlines()
    assert lines[0].startswith("╭") and lines[-1].startswith("╰")
    assert all(len(line) == 44 for line in lines)  # the panel is as narrow as paper
    for expected in ("SANDBOX", "The Coffee Cart", "SALE  APPROVED", "€12.50", "€2.00", "€14.50",
                     "************0010", "No CVM required", "20261124-K3Q9FX", "CUSTOMER COPY"):
        assert expected in text
    assert "TOTAL" in next(line for line in lines if "€14.50" in line)


def test_rich_receipt_prints_on_a_no_color_console(chip_pin_sale, merchant, monkeypatch):
    from rich.console import Console

    monkeypatch.setenv("NO_COLOR", "1")
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system="truecolor")
    console.print(render(build_receipt(chip_pin_sale, **merchant), "rich"))
    out = buffer.getvalue()
    assert "APPROVED" in out and "€75.00" in out and "PIN verified online" in out
    assert "\x1b[32m" not in out and "\x1b[1;32m" not in out  # NO_COLOR: green is dropped, bold may stay


def test_rich_receipt_with_colour_marks_the_outcome(declined_sale, merchant):
    text = rich_text(build_receipt(declined_sale, **merchant), color=True)
    assert "\x1b[1;31mDECLINED" in text  # bold red


def test_rich_shows_markup_in_notes_as_typed(make_tx, merchant):
    merchant["merchant_name"] = "[bold red]Fake[/] Shop"
    text = rich_text(build_receipt(make_tx(note="[/] [link=http://x]click[/link]"), **merchant), width=60)
    assert "[bold red]Fake[/] Shop" in text
    assert "[/] [link=http://x]click[/link]" in text


def test_formats_and_what_each_returns(contactless_sale, merchant):
    from rich.panel import Panel

    receipt = build_receipt(contactless_sale, **merchant)
    assert FORMATS == ("rich", "text", "html", "escpos")
    assert isinstance(render(receipt, "text"), str)
    assert isinstance(render(receipt, "html"), str)
    assert isinstance(render(receipt, "escpos"), bytes)
    assert isinstance(render(receipt, "rich"), Panel)


def test_unknown_format_is_refused(contactless_sale, merchant):
    with pytest.raises(ValueError, match="pdf"):
        render(build_receipt(contactless_sale, **merchant), "pdf")


def test_importing_receipts_loads_no_renderer_library():
    code = (
        "import sys, receipts; "
        "heavy = [m for m in ('rich', 'escpos', 'segno', 'PIL', 'babel') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == ""
