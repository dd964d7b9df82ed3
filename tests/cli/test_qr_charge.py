"""mpos charge --method qr through the CLI: the code a phone reads, what is
refused, cancelling, expiry, receipts and statements that cannot be read."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mpos_cli.qr import emvco_crc_ok, parse_tlv

IBAN = "DE89370400440532013000"
HALF_BLOCKS = {" ", "\u2580", "\u2584", "\u2588"}


@pytest.fixture
def epc(mpos):
    for key, value in (("qr.iban", IBAN), ("qr.name", "Café Zoë"), ("qr.bic", "COBADEFFXXX")):
        result = mpos("config", "set", key, value)
        assert result.exit_code == 0, result
    return mpos


def journal_files(home: Path) -> dict[str, bytes]:
    folder = home / "journal"
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".log"}


def test_a_qr_sale_is_pending_with_the_spec_json(epc):
    result = epc("charge", "12.50", "--tip", "1", "--method", "qr", "--note", "table 4", "--json")
    assert result.exit_code == 0, result
    tx = result.json()
    assert (tx["type"], tx["status"], tx["method"]) == ("sale", "pending", "qr")
    assert (tx["amount_minor"], tx["tip_minor"], tx["total_minor"]) == (1250, 100, 1350)
    assert tx["items"] == [] and tx["terminal_id"] == "MPOS0001" and tx["card"] is None
    assert tx["sandbox"] is False  # the code pays a real account, whatever the acquirer
    assert tx["qr"]["format"] == "epc" and tx["qr"]["reference"].startswith("RF")
    lines = tx["qr"]["payload"].split("\n")
    assert lines == ["BCD", "002", "1", "SCT", "COBADEFFXXX", "Café Zoë", IBAN, "EUR13.5", "", tx["qr"]["reference"]]
    assert "█" not in result.stdout  # one JSON document on stdout; the code goes to a terminal only


def test_card_sales_keep_method_card_and_old_records_load(mpos):
    result = mpos("charge", "3", "--json")
    assert result.exit_code == 0, result
    assert result.json()["method"] == "card" and result.json()["qr"] is None and result.json()["items"] == []
    from mpos_cli.transaction import Transaction

    record = Transaction.from_record(result.json() | {"stage": "done"}).to_record()
    for key in ("method", "qr", "items"):
        record.pop(key)  # as a journal written before QR payments holds it
    old = Transaction.from_record(record)
    assert (old.method, old.qr, old.items) == ("card", None, ())
    from mpos_cli.journal.store import decode_transaction

    assert decode_transaction(record) == old


def _image_of_terminal_code(text: str):
    """Half-block characters back into pixels: each cell is two modules, a
    drawn half is a light module (segno draws for dark terminals)."""
    from PIL import Image

    rows = [line for line in text.splitlines() if line and set(line) <= HALF_BLOCKS]
    width, scale = max(len(r) for r in rows), 8
    image = Image.new("L", (width * scale, len(rows) * 2 * scale), 0)
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            top = char in ("\u2580", "\u2588")
            bottom = char in ("\u2584", "\u2588")
            for half, light in ((0, top), (1, bottom)):
                if light:
                    image.paste(255, (x * scale, (2 * y + half) * scale, (x + 1) * scale, (2 * y + half + 1) * scale))
    return image


def zbar(png: Path) -> str:
    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg is not installed (tests/run.sh installs Debian's zbar-tools)")
    # -Sbinary: the raw bytes, so UTF-8 is not re-guessed as another character set.
    proc = subprocess.run(["zbarimg", "--raw", "-q", "-Sbinary", str(png)], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8").removesuffix("\n")


def test_the_code_drawn_in_the_terminal_decodes_to_the_payload(epc, tmp_path):
    result = epc("charge", "12.50", "--method", "qr", "--no-receipt")
    assert result.exit_code == 0, result
    assert "Scan to pay €12.50" in result.stdout
    assert "mpos bank import" in result.stderr
    tx_id = result.stdout.split()[2]
    payload = json.loads(epc("journal", "show", tx_id, "--json").stdout)["qr"]["payload"]
    png = tmp_path / "screen.png"
    _image_of_terminal_code(result.stdout).save(png)
    assert zbar(png) == payload


def test_receipts_carry_the_code_to_pay(epc, tmp_path):
    result = epc("charge", "9.90", "--method", "qr", "--json")
    tx = result.json()
    html = epc("receipt", tx["id"], "--format", "html")
    assert html.exit_code == 0, html
    assert "AWAITING PAYMENT" in html.stdout and "<svg" in html.stdout and tx["qr"]["reference"] in html.stdout
    assert "mpos recover" not in html.stdout  # a QR payment is not an unknown card outcome
    out = tmp_path / "r.bin"
    escpos = epc("receipt", tx["id"], "--format", "escpos", "--output", str(out))
    assert escpos.exit_code == 0, escpos
    data = out.read_bytes()
    assert b"Scan with a banking app to pay" in data and b"\x1dv0" in data  # GS v 0: a raster image
    # The same code, drawn as the receipt renderers draw it, reads back too.
    from mpos_cli.qr import Drawing

    png = tmp_path / "receipt.png"
    png.write_bytes(Drawing(tx["qr"]["payload"]).png(scale=4, border=2))
    assert zbar(png) == tx["qr"]["payload"]


@pytest.mark.parametrize(
    "setup, args, words",
    [
        ((), ("12.50",), "qr.iban is not set"),
        ((("qr.iban", IBAN),), ("12.50", "--currency", "GBP"), "EUR only"),
        ((("qr.iban", IBAN),), ("1000000000",), "0.01 to 999999999.99"),
        ((("qr.format", "emvco"), ("qr.emvco_account", "26050001A"), ("qr.country", "SG"), ("qr.city", "Singapore"),
          ("qr.name", "x" * 26)), ("5", "--currency", "SGD"), "at most 25"),
        ((("qr.iban", IBAN),), ("5", "--card", "chip"), "card payments"),
        ((("qr.iban", IBAN), ("qr.format", "emvco")), ("5",), "no merchant account information"),
    ],
)
def test_refused_qr_sales_write_nothing(mpos, isolated_home, setup, args, words):
    for key, value in setup:
        assert mpos("config", "set", key, value).exit_code == 0
    before = journal_files(isolated_home)
    result = mpos("charge", *args, "--method", "qr", "--json")
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith("mpos: error: ") and words in result.stderr and len(result.stderr.splitlines()) == 1
    assert journal_files(isolated_home) == before


@pytest.mark.parametrize(
    "key, value",
    [("qr.iban", "DE89370400440532013001"), ("qr.iban", "XX00123"), ("qr.bic", "NOTABIC"), ("qr.country", "XZ"),
     ("qr.name", "x" * 71), ("qr.mcc", "12a4"),
     ("qr.emvco_account", "26050101A"), ("qr.expiry_days", "0"), ("qr.format", "swish")],
)
def test_config_set_refuses_bad_qr_settings(mpos, isolated_home, key, value):
    result = mpos("config", "set", key, value)
    assert result.exit_code == 2, result
    assert not (isolated_home / "config.toml").exists()


def test_emvco_code(mpos):
    for key, value in (("qr.format", "emvco"), ("qr.emvco_account", "26310015com.example.pay0108M1234567"),
                       ("qr.country", "SG"), ("qr.city", "Singapore"), ("qr.name", "Kopi Stall"), ("qr.mcc", "5814")):
        assert mpos("config", "set", key, value).exit_code == 0, key
    result = mpos("charge", "4.50", "--currency", "SGD", "--method", "qr", "--json")
    assert result.exit_code == 0, result
    tx = result.json()
    payload = tx["qr"]["payload"]
    assert tx["qr"]["format"] == "emvco" and emvco_crc_ok(payload)
    objects = dict(parse_tlv(payload))
    assert objects["00"] == "01" and objects["01"] == "12"
    assert (objects["52"], objects["53"], objects["54"], objects["58"]) == ("5814", "702", "4.50", "SG")
    assert dict(parse_tlv(objects["62"]))["01"] == tx["qr"]["reference"]


def test_void_cancels_an_unpaid_qr_payment_without_the_acquirer(epc):
    tx = epc("charge", "6", "--method", "qr", "--json").json()
    voided = epc("void", tx["id"], "--json")
    assert voided.exit_code == 0, voided
    assert voided.json()["id"] == tx["id"] and voided.json()["status"] == "cancelled"
    assert tx["id"] not in epc("sandbox", "ledger", "--json").stdout
    again = epc("void", tx["id"])
    assert again.exit_code == 2 and "only a QR payment still waiting" in again.stderr
    refund = epc("refund", tx["id"])
    assert refund.exit_code == 2 and "bank transfer" in refund.stderr


def run_at(moment: datetime, *args: str):
    """The CLI in-process on a given day (the ``mpos`` fixture has no clock)."""
    from mpos_cli.cli import run
    from mpos_cli.env import Environment

    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), Environment(environ=dict(os.environ), stdout=out, stderr=err, clock=lambda: moment))
    return code, out.getvalue(), err.getvalue()


def test_an_unpaid_qr_payment_expires_and_a_late_credit_is_reported(epc, tmp_path):
    assert epc("config", "set", "qr.expiry_days", "2").exit_code == 0
    day = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    code, out, err = run_at(day, "charge", "15.00", "--method", "qr", "--json")
    assert code == 0, err
    tx = json.loads(out)
    assert tx["qr"]["expires_on"] == "2026-11-26"

    code, out, _ = run_at(day + timedelta(days=2), "journal", "list", "--status", "pending", "--date", "2026-11-24", "--json")
    assert [t["id"] for t in json.loads(out)] == [tx["id"]]  # still payable on its last day

    statement = tmp_path / "late.sta"
    statement.write_text(
        ":20:LATE\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261127EUR0,00\n"
        f":61:2611271127C15,00NTRFNONREF//LATE-1\n:86:{tx['qr']['reference']}\n:62F:C261127EUR15,00\n"
    )
    code, out, err = run_at(day + timedelta(days=3), "bank", "import", str(statement), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] == 0 and [u["result"] for u in result["unmatched"]] == ["expired"]
    assert "expired unpaid" in err
    code, out, _ = run_at(day + timedelta(days=3), "journal", "show", tx["id"], "--json")
    shown = json.loads(out)
    assert shown["status"] == "cancelled" and shown["message"].startswith("expired")


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("broken.xml", '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n<BkToCstmrStmt>\n</Document>\n',
         "broken.xml line 4: not well-formed XML"),
        ("noamount.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>\n'
         "<Ntfctn><Id>1</Id>\n<Ntry><CdtDbtInd>CRDT</CdtDbtInd></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>",
         "noamount.xml line 3: Ntry has no Amt"),
        ("pain.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>', "not an ISO 20022 camt.053 or camt.054"),
        ("bad.sta", ":20:X\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261124EUR0,00\n:61:26XX24C5,00NTRF//A\n:62F:C261124EUR5,00\n",
         "bad.sta line 5: cannot read field :61:"),
        ("cents.sta", ":20:X\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261124EUR0,00\n:61:2611241124C5,001NTRFNONREF//A\n:62F:C261124EUR5,00\n",
         "more decimals than EUR allows"),
        ("notes.txt", "shopping list\n", "not a statement mpos can read"),
    ],
)
def test_a_statement_that_cannot_be_read_is_exit_2_and_writes_nothing(epc, isolated_home, tmp_path, name, content, words):
    tx = epc("charge", "5", "--method", "qr", "--json").json()
    path = tmp_path / name
    path.write_text(content.replace("RFREF", tx["qr"]["reference"]))
    before = journal_files(isolated_home)
    result = epc("bank", "import", str(path), "--json")
    assert result.exit_code == 2, result
    assert result.stdout == "" and words in result.stderr and len(result.stderr.splitlines()) == 1
    assert journal_files(isolated_home) == before


def test_a_missing_file_is_a_usage_error(mpos, tmp_path):
    result = mpos("bank", "import", str(tmp_path / "nope.xml"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
