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
# ESC t n, "Select character code table" (Epson ESC/POS Command Reference,
# download4.epson.biz/sec_pubs/pos/reference_en/escpos/esc_lt.html): n = 19 is
# "Page 19 [PC858: Euro]", n = 16 "Page 16 [WPC1252]", n = 0 "Page 0 [PC437]".
CODE_PAGE_PC858 = b"\x1b\x74\x13"  # ESC t 19
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
# The merchant header down to the rule above the amounts, and the card and
# authorisation block from the rule below the total to the copy line.
CORNER_BOOKS_HEAD = b"".join([
    BOLD_ON, ALIGN_CENTRE, b"Corner Books\n",
    BOLD_OFF, b"1 Main St\n",
    ALIGN_LEFT, row("Merchant ID", "MID000000000042"),
    row("Terminal ID", "TID00042"),
    b"=" * 32 + b"\n",
    SIZE_DOUBLE_HEIGHT, BOLD_ON, ALIGN_CENTRE, b"SALE\n",
    SIZE_NORMAL, b"APPROVED\n",
    BOLD_OFF, b"2026-03-05 09:30:00 -05:00\n",
    ALIGN_LEFT, b"-" * 32 + b"\n",
])
CORNER_BOOKS_CARD = b"".join([
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
])
EXPECTED_CORNER_BOOKS = b"".join([
    ESC_INIT, CODE_PAGE_PC858,
    CORNER_BOOKS_HEAD,
    row("Amount", "$25.00"),
    SIZE_DOUBLE_HEIGHT, BOLD_ON, row("TOTAL", "$25.00"),
    CORNER_BOOKS_CARD,
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
    banner = SIZE_DOUBLE_BOTH + BOLD_ON + ALIGN_CENTRE + INVERT_ON + b"SANDBOX\n"
    assert data.startswith(ESC_INIT + CODE_PAGE_PC858 + banner)
    back_to_normal = SIZE_NORMAL + BOLD_OFF + INVERT_OFF + b"Test transaction - no real\n"
    assert data[len(ESC_INIT + CODE_PAGE_PC858 + banner):].startswith(back_to_normal)
    assert data.count(b"SANDBOX\n") == 2  # top and bottom
    assert data.endswith(ALIGN_LEFT + FEED_6_LINES + FULL_CUT)  # no QR asked for


# Where the amounts' symbols sit in each code page, from the published tables:
# - PC858: IBM code page 00858 (ftp.software.ibm.com/software/globalization/gcoc/
#   attachments/CP00858.txt, as glibc's localedata/charmaps/IBM858 carries it):
#   /xd5 EURO SIGN, /x9c POUND SIGN, /xbe YEN SIGN;
# - WPC1252: Microsoft's table for code page 1252 (unicode.org/Public/MAPPINGS/
#   VENDORS/MICSFT/WindowsBestFit/bestfit1252.txt): 0x80 U+20AC, 0xa3 U+00A3, 0xa5 U+00A5;
# - PC437: IBM code page 437 (glibc localedata/charmaps/IBM437): /x9c POUND SIGN,
#   /x9d YEN SIGN, and no euro sign.
EURO_PC858, POUND_PC858, YEN_PC858 = b"\xd5", b"\x9c", b"\xbe"
EURO_WPC1252, POUND_WPC1252, YEN_WPC1252 = b"\x80", b"\xa3", b"\xa5"
POUND_PC437, YEN_PC437 = b"\x9c", b"\x9d"
CODE_PAGE_WPC1252 = b"\x1b\x74\x10"  # ESC t 16
CODE_PAGE_PC437 = b"\x1b\x74\x00"  # ESC t 0


def byte_row(label: str, value: bytes, width: int = 32) -> bytes:
    """A justified row whose value is already in the printer's single-byte code page."""
    return label.encode("ascii") + b" " * (width - len(label) - len(value)) + value + b"\n"


def expected_corner_books(page_select: bytes, amount: bytes, cutter: bool = True) -> bytes:
    """The Corner Books receipt (qr none) with its amounts in ``amount``, printed after ``page_select``;
    a printer without a cutter gets the feed and no GS V."""
    return b"".join([
        ESC_INIT, page_select,
        CORNER_BOOKS_HEAD,
        byte_row("Amount", amount),
        SIZE_DOUBLE_HEIGHT, BOLD_ON, byte_row("TOTAL", amount),
        CORNER_BOOKS_CARD,
        BOLD_OFF, ALIGN_LEFT, FEED_6_LINES, FULL_CUT if cutter else b"",
    ])


@pytest.mark.parametrize(
    "profile, page_select, currency, minor, locale, amount",
    [
        # python-escpos's default profile and Epson's TM-T88V: PC858 on page 19.
        ("default", CODE_PAGE_PC858, "EUR", 2500, "en_IE", EURO_PC858 + b"25.00"),
        ("TM-T88V", CODE_PAGE_PC858, "EUR", 2500, "de_DE", b"25,00 " + EURO_PC858),
        ("default", CODE_PAGE_PC858, "GBP", 2500, "en_GB", POUND_PC858 + b"25.00"),
        ("default", CODE_PAGE_PC858, "JPY", 2500, "en_US", YEN_PC858 + b"2,500"),
        # ja_JP writes the full-width yen sign U+FFE5: printed as its narrow form, the yen sign.
        ("default", CODE_PAGE_PC858, "JPY", 2500, "ja_JP", YEN_PC858 + b"2,500"),
        # en_IE writes dinars with the code itself; ar_KW's Arabic symbol is on no page: the code.
        ("default", CODE_PAGE_PC858, "KWD", 2500, "en_IE", b"KWD2.500"),
        ("default", CODE_PAGE_PC858, "KWD", 2500, "ar_KW", b"2.500 KWD"),
        # A 58 mm printer whose profile has WPC1252 (page 16) and no PC858.
        ("ZJ-5870", CODE_PAGE_WPC1252, "EUR", 2500, "en_IE", EURO_WPC1252 + b"25.00"),
        ("ZJ-5870", CODE_PAGE_WPC1252, "GBP", 2500, "en_GB", POUND_WPC1252 + b"25.00"),
        ("ZJ-5870", CODE_PAGE_WPC1252, "JPY", 2500, "en_US", YEN_WPC1252 + b"2,500"),
        # A printer with PC437 only: £ and ¥ are there, the euro is not: EUR.
        ("simple", CODE_PAGE_PC437, "EUR", 2500, "en_IE", b"EUR 25.00"),
        ("simple", CODE_PAGE_PC437, "GBP", 2500, "en_GB", POUND_PC437 + b"25.00"),
        ("simple", CODE_PAGE_PC437, "JPY", 2500, "en_US", YEN_PC437 + b"2,500"),
    ],
)
def test_one_code_page_with_the_currency_symbol_byte_for_byte(
    corner_books_sale, profile, page_select, currency, minor, locale, amount
):
    sale = corner_books_sale.with_changes(currency=currency, amount_minor=minor)
    receipt = build_receipt(
        sale, merchant_name="Corner Books", merchant_address="1 Main St",
        merchant_id="MID000000000042", terminal_id="TID00042", copy="customer", locale=locale,
    )
    data = render_escpos(receipt, columns=32, profile=profile, qr="none")
    # python-escpos's ZJ-5870 and simple profiles have no cutter.
    assert data == expected_corner_books(page_select, amount, cutter=profile not in ("ZJ-5870", "simple"))
    assert data.count(b"\x1b\x74") == 1  # one page for the whole receipt, never a switch
    assert b"?" not in data


def test_the_euro_never_goes_through_a_greek_page(contactless_sale, merchant):
    data = render_escpos(build_receipt(contactless_sale, **merchant), columns=32, qr="none")
    assert data.startswith(ESC_INIT + CODE_PAGE_PC858)
    assert b"\x1b\x74\x0f" not in data  # ESC t 15: ISO 8859-7 (Greek), where python-escpos used to find €
    assert byte_row("Amount", EURO_PC858 + b"12.50") in data
    assert byte_row("Tip", EURO_PC858 + b"2.00") in data


def test_an_unknown_printer_profile_is_refused(corner_books_receipt):
    with pytest.raises(ValueError, match="unknown printer profile 'TM-NOPE'.*TM-T88V"):
        render_escpos(corner_books_receipt, profile="TM-NOPE")


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


def test_the_printer_profile_setting_picks_the_code_page(mpos, isolated_home, tmp_path):
    tx_id = mpos("charge", "12.50", "--json").json()["id"]
    first = tmp_path / "default.bin"
    assert mpos("receipt", tx_id, "--format", "escpos", "--output", str(first)).exit_code == 0
    data = first.read_bytes()
    assert data.startswith(ESC_INIT + CODE_PAGE_PC858)
    assert byte_row("Amount", EURO_PC858 + b"12.50", width=42) in data  # the default profile: 42 columns

    assert mpos("config", "set", "printer.profile", "ZJ-5870").exit_code == 0
    device = tmp_path / "lp0"  # stands in for /dev/usb/lp0: it exists before mpos writes to it
    device.touch()
    assert mpos("config", "set", "printer.device", str(device)).exit_code == 0
    printed = mpos("receipt", tx_id, "--print")
    assert printed.exit_code == 0, printed
    data = device.read_bytes()
    assert data.startswith(ESC_INIT + CODE_PAGE_WPC1252)
    assert byte_row("Amount", EURO_WPC1252 + b"12.50", width=32) in data  # a 58 mm printer: 32 columns


def test_an_unknown_printer_profile_is_refused_when_set_and_when_hand_written(mpos, isolated_home):
    assert mpos("config", "set", "currency", "EUR").exit_code == 0
    config = isolated_home / "config.toml"
    before = config.read_bytes()
    refused = mpos("config", "set", "printer.profile", "TM-NOPE")
    assert refused.exit_code == 2, refused
    assert refused.stderr.startswith("mpos: error: ") and len(refused.stderr.strip().splitlines()) == 1
    assert "TM-NOPE" in refused.stderr and "TM-T88V" in refused.stderr
    assert config.read_bytes() == before

    config.write_text(before.decode() + '"printer.profile" = "TM-NOPE"\n')
    result = mpos("journal", "list")
    assert result.exit_code == 8, result
    assert "printer.profile" in result.stderr
