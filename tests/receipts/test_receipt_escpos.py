"""ESC/POS receipts, checked byte for byte against the command set, and their delivery."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from mpos_cli.receipts import (
    DeviceFileTransport,
    PrinterUnavailable,
    RecordingTransport,
    build_receipt,
    print_receipt,
    render,
)
from mpos_cli.receipts.render.escpos_bytes import render_escpos

# The ESC/POS commands the receipt uses (Epson ESC/POS reference).
ESC_INIT = b"\x1b\x40"  # ESC @: initialise: left, not bold, normal size, code page 0
CODE_PAGE_PC437 = b"\x1b\x74\x00"  # ESC t 0
BOLD_ON, BOLD_OFF = b"\x1b\x45\x01", b"\x1b\x45\x00"  # ESC E n
ALIGN_LEFT, ALIGN_CENTRE = b"\x1b\x61\x00", b"\x1b\x61\x01"  # ESC a n
SIZE_NORMAL = b"\x1d\x21\x00"  # GS ! n: bits 0-2 height - 1, bits 4-6 width - 1
SIZE_DOUBLE_HEIGHT = b"\x1d\x21\x01"
SIZE_DOUBLE_BOTH = b"\x1d\x21\x11"
INVERT_ON, INVERT_OFF = b"\x1d\x42\x01", b"\x1d\x42\x00"  # GS B n: white on black
FEED_6_LINES = b"\x1b\x64\x06"  # ESC d 6: print and feed past the cutter
FULL_CUT = b"\x1d\x56\x00"  # GS V 0


def qr_native(data: bytes) -> bytes:
    """GS ( k, function 165/167/169/180/181: model 2, module 5 dots, level M, store, print."""
    store_length = len(data) + 3  # cn, fn, m and the data
    return (
        b"\x1d\x28\x6b\x04\x00\x31\x41\x32\x00"  # fn 65: select model 2
        + b"\x1d\x28\x6b\x03\x00\x31\x43\x05"  # fn 67: module size 5 dots
        + b"\x1d\x28\x6b\x03\x00\x31\x45\x31"  # fn 69: error correction M (49)
        + b"\x1d\x28\x6b" + bytes([store_length, 0]) + b"\x31\x50\x30" + data  # fn 80: store the data
        + b"\x1d\x28\x6b\x03\x00\x31\x51\x30"  # fn 81: print the stored symbol
    )


def row(label: str, value: str, width: int = 32) -> bytes:
    return (label + " " * (width - len(label) - len(value)) + value + "\n").encode("ascii")


@pytest.fixture
def corner_books_sale(make_tx, cards):
    """US$25.00 by chip and PIN in New York, real acquirer: every character is ASCII."""
    return make_tx(
        id="20260305-7QK2MD", currency="USD", amount_minor=2500, tip_minor=0, sandbox=False,
        created_at=datetime(2026, 3, 5, 9, 30, 0, tzinfo=timezone(timedelta(hours=-5))),
        business_date="2026-03-05", card=cards.mastercard_chip_pin, auth_code="XK42P7", emv_out={},
    )


@pytest.fixture
def corner_books_receipt(corner_books_sale):
    return build_receipt(
        corner_books_sale, merchant_name="Corner Books", merchant_address="1 Main St",
        merchant_id="MID000000000042", terminal_id="TID00042", copy="customer", locale="en_US",
    )


# Derived by hand: one line per printed line, the style commands where the style changes.
EXPECTED_CORNER_BOOKS = b"".join([
    ESC_INIT,
    BOLD_ON, ALIGN_CENTRE, CODE_PAGE_PC437, b"Corner Books\n",
    BOLD_OFF, b"1 Main St\n",
    ALIGN_LEFT, row("Merchant ID", "MID000000000042"),
    row("Terminal ID", "TID00042"),
    b"=" * 32 + b"\n",
    SIZE_DOUBLE_HEIGHT, BOLD_ON, ALIGN_CENTRE, b"SALE\n",
    SIZE_NORMAL, b"APPROVED\n",
    BOLD_OFF, b"2026-03-05 09:30:00 -05:00\n",
    ALIGN_LEFT, b"-" * 32 + b"\n",
    row("Amount", "$25.00"),
    SIZE_DOUBLE_HEIGHT, BOLD_ON, row("TOTAL", "$25.00"),
    SIZE_NORMAL, BOLD_OFF, b"-" * 32 + b"\n",
    row("Card", "************0434"),
    row("Scheme", "Mastercard"),
    row("Entry", "Chip"),
    row("AID", "A0000000041010"),
    row("Application", "MASTERCARD"),
    b"PIN verified online\n",
    b"-" * 32 + b"\n",
    row("Auth code", "XK42P7"),
    row("Response", "00 Approved"),
    row("TVR", "0000008000"),
    row("TSI", "E800"),
    row("Transaction", "20260305-7QK2MD"),
    b"-" * 32 + b"\n",
    ALIGN_CENTRE, b"Please keep this receipt.\n",
    BOLD_ON, b"CUSTOMER COPY\n",
    BOLD_OFF, qr_native(b"20260305-7QK2MD"), b"\n",
    ALIGN_LEFT, FEED_6_LINES, FULL_CUT,
])


def test_escpos_bytes_match_the_command_set(corner_books_receipt):
    assert render_escpos(corner_books_receipt, columns=32) == EXPECTED_CORNER_BOOKS


def test_print_receipt_sends_exactly_those_bytes_in_one_write(corner_books_receipt):
    transport = RecordingTransport()
    sent = print_receipt(corner_books_receipt, transport, columns=32)
    assert sent == EXPECTED_CORNER_BOOKS
    assert transport.writes == [EXPECTED_CORNER_BOOKS]


def test_dispatcher_uses_the_profile_width(corner_books_receipt):
    data = render(corner_books_receipt, "escpos")
    assert isinstance(data, bytes)
    assert b"=" * 42 + b"\n" in data  # the default profile prints 42 columns in font A
    assert render(corner_books_receipt, "escpos", width=32) == EXPECTED_CORNER_BOOKS


def test_sandbox_banner_is_big_and_inverted(contactless_sale, merchant):
    data = render_escpos(build_receipt(contactless_sale, **merchant), columns=32, qr="none")
    banner = SIZE_DOUBLE_BOTH + BOLD_ON + ALIGN_CENTRE + INVERT_ON + CODE_PAGE_PC437 + b"SANDBOX\n"
    assert data.startswith(ESC_INIT + banner)
    back_to_normal = SIZE_NORMAL + BOLD_OFF + INVERT_OFF + b"Test transaction - no real\n"
    assert data[len(ESC_INIT + banner):].startswith(back_to_normal)
    assert data.count(b"SANDBOX\n") == 2  # top and bottom
    assert data.endswith(ALIGN_LEFT + FEED_6_LINES + FULL_CUT)  # no QR asked for


def test_euro_amounts_switch_to_a_code_page_that_has_the_euro(contactless_sale, merchant):
    from escpos.printer import Dummy

    data = render_escpos(build_receipt(contactless_sale, **merchant), columns=32)
    encoder = Dummy().magic.encoder
    switch = data.index(b"Amount") + len("Amount") + 20
    assert data[switch:switch + 2] == b"\x1b\x74"  # ESC t n, just before the first €
    page = data[switch + 2]
    euro = data[switch + 3:switch + 4]
    name = next(n for n, slot in encoder.codepages.items() if int(slot) == page)
    assert encoder.encode("€", name) == euro
    assert euro + b"12.50\n" in data and euro + b"14.50\n" in data


def test_no_break_spaces_from_babel_print_as_spaces(contactless_sale, merchant):
    receipt = build_receipt(contactless_sale, **merchant, locale="fr_FR")
    data = render_escpos(receipt, columns=32, qr="none")
    assert b"12,50 " in data and b"?" not in data


def test_qr_as_a_raster_image_for_printers_without_native_qr(corner_books_receipt):
    data = render_escpos(corner_books_receipt, columns=32, qr="image")
    assert b"\x1d\x28\x6b" not in data  # no native GS ( k
    assert b"\x1dv0\x00" in data  # GS v 0: raster bit image, normal density
    assert data.endswith(FEED_6_LINES + FULL_CUT)


def test_never_a_full_pan_on_paper(make_tx, merchant, cards):
    leaked = cards.visa_contactless.__class__(
        scheme="visa", masked_pan=cards.visa_full_pan, entry_mode="chip", cvm="online_pin"
    )
    for copy in ("customer", "merchant"):
        data = render_escpos(build_receipt(make_tx(card=leaked), **merchant, copy=copy), qr="none")
        assert cards.visa_full_pan.encode() not in data
        assert b"0010" in data


def test_device_file_transport_writes_to_the_device(tmp_path, corner_books_receipt):
    # A FIFO stands in for /dev/rfcomm0: a special file that exists before we write.
    device = tmp_path / "rfcomm0"
    os.mkfifo(device)
    reader = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sent = print_receipt(corner_books_receipt, str(device), columns=32)
        received = b""
        while chunk := _read_available(reader):
            received += chunk
    finally:
        os.close(reader)
    assert sent == received == EXPECTED_CORNER_BOOKS
    assert stat.S_ISFIFO(os.stat(device).st_mode)


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def test_a_missing_device_is_not_created(tmp_path, corner_books_receipt):
    device = tmp_path / "lp0"
    with pytest.raises(PrinterUnavailable) as caught:
        DeviceFileTransport(device).write(b"\x1b\x40")
    assert not device.exists()
    assert str(device) in caught.value.one_line()
    assert "printer" in caught.value.one_line()
