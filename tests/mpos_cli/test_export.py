"""Export writers: JSON and CSV streams, a beancount ledger bean-check accepts,
and output files that appear whole and private or not at all."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mpos_cli.errors import UsageError
from mpos_cli.export import DEFAULT_ACCOUNTS, output_file, write_beancount, write_csv, write_json
from mpos_cli.transaction import Card, Stage, Transaction, TxStatus, TxType

BERLIN = ZoneInfo("Europe/Berlin")
_serial = iter(range(10**9))


def make_tx(
    status=TxStatus.APPROVED, *, type_=TxType.SALE, amount=1000, tip=0, currency="EUR", day=24, note=None,
    original_id=None, sandbox=True,
) -> Transaction:
    at = datetime(2026, 11, day, 12, 30, tzinfo=BERLIN)
    return Transaction(
        id=f"202611{day:02d}-{next(_serial):06d}",
        type=type_, status=status, stage=Stage.DONE, amount_minor=amount, tip_minor=tip, currency=currency,
        created_at=at, business_date=at.date().isoformat(), sandbox=sandbox,
        card=Card(scheme="visa", masked_pan="476173******0010", entry_mode="chip", cvm="online_pin"),
        response_code="00", auth_code="A1B2C3", note=note, original_id=original_id,
    )


def bean_check(path: Path) -> subprocess.CompletedProcess:
    # bean-check comes with the test extra's beancount, next to this interpreter.
    beside = Path(sys.executable).with_name("bean-check")
    command = str(beside) if beside.exists() else shutil.which("bean-check")
    assert command, "bean-check is missing: pip install -e '.[test]'"
    return subprocess.run([command, str(path)], capture_output=True, text=True, timeout=120)


def ledger_balances(path: Path) -> dict[tuple[str, str], Decimal]:
    from beancount import loader

    entries, errors, _ = loader.load_file(str(path))
    assert not errors, errors
    balances: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        for posting in getattr(entry, "postings", None) or ():
            balances[(posting.account, posting.units.currency)] += posting.units.number
    return dict(balances)


def mixed_day() -> list[Transaction]:
    sale = make_tx(TxStatus.PARTIALLY_REFUNDED, amount=2000, tip=150, note='table "4" \\ window')
    return [
        sale,
        make_tx(TxStatus.APPROVED, type_=TxType.REFUND, amount=500, day=25, original_id=sale.id),
        make_tx(TxStatus.APPROVED, amount=1500, currency="JPY"),
        make_tx(TxStatus.APPROVED, amount=12345, currency="KWD", tip=5),  # 12.345 + 0.005 KWD
        make_tx(TxStatus.REFUNDED, amount=999),
        make_tx(TxStatus.APPROVED, type_=TxType.REFUND, amount=999),
        make_tx(TxStatus.VOIDED, amount=7000),
        make_tx(TxStatus.APPROVED, type_=TxType.VOID, amount=7000),
        make_tx(TxStatus.DECLINED, amount=1005),
        make_tx(TxStatus.OFFLINE, amount=4000),
        make_tx(TxStatus.PENDING, amount=4000),
        make_tx(TxStatus.DECLINED, type_=TxType.REFUND, amount=100),
    ]


def test_beancount_ledger_passes_bean_check(tmp_path):
    path = tmp_path / "mpos.beancount"
    with path.open("w") as out:
        assert write_beancount(mixed_day(), out) == 6  # 4 captured sales + 2 approved refunds
    result = bean_check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_beancount_amounts_are_exact_and_money_balances(tmp_path):
    path = tmp_path / "mpos.beancount"
    with path.open("w") as out:
        write_beancount(mixed_day(), out)
    balances = ledger_balances(path)
    clearing = DEFAULT_ACCOUNTS["clearing_account"]
    assert balances[(clearing, "EUR")] == Decimal("21.50") + Decimal("9.99") - Decimal("5.00") - Decimal("9.99")
    assert balances[(clearing, "JPY")] == Decimal("1500")
    assert balances[(clearing, "KWD")] == Decimal("12.350")
    assert balances[("Income:Tips", "EUR")] == Decimal("-1.50")  # tips are their own posting
    assert balances[("Income:Tips", "KWD")] == Decimal("-0.005")
    assert balances[("Income:Sales", "EUR")] == Decimal("-29.99")
    assert balances[("Income:Refunds", "EUR")] == Decimal("14.99")
    text = path.read_text()
    assert "12.345 KWD" in text and "1500 JPY" in text
    assert "70.00" not in text and "10.05" not in text and "40.00" not in text  # voided, declined, offline


def test_beancount_metadata_names_the_transaction_and_card(tmp_path):
    sale = make_tx(amount=1250)
    out = io.StringIO()
    write_beancount([sale], out)
    text = out.getvalue()
    assert f'mpos_id: "{sale.id}"' in text
    assert 'auth_code: "A1B2C3"' in text
    assert 'masked_pan: "476173******0010"' in text
    assert "#sandbox" in text
    assert "open Assets:Mpos:Clearing EUR" in text


def test_refunds_are_their_own_transactions_on_their_own_day(tmp_path):
    from beancount import loader

    sale = make_tx(TxStatus.PARTIALLY_REFUNDED, amount=2000)
    refund = make_tx(TxStatus.APPROVED, type_=TxType.REFUND, amount=500, day=27, original_id=sale.id)
    path = tmp_path / "refund.beancount"
    with path.open("w") as out:
        write_beancount([sale, refund], out)
    entries, errors, _ = loader.load_file(str(path))
    assert not errors
    transactions = [entry for entry in entries if type(entry).__name__ == "Transaction"]
    assert [(str(t.date), t.meta["mpos_id"]) for t in transactions] == [("2026-11-24", sale.id), ("2026-11-27", refund.id)]
    assert transactions[1].meta["original_id"] == sale.id
    assert {p.account for p in transactions[1].postings} == {"Income:Refunds", "Assets:Mpos:Clearing"}


def test_account_names_are_keyword_arguments_and_checked(tmp_path):
    path = tmp_path / "custom.beancount"
    with path.open("w") as out:
        write_beancount([make_tx(tip=100)], out, clearing_account="Assets:Bank:Stripe-Clearing", tips_account="Income:Gratuities")
    assert bean_check(path).returncode == 0
    assert ("Income:Gratuities", "EUR") in ledger_balances(path)
    with pytest.raises(UsageError):
        write_beancount([make_tx()], io.StringIO(), sales_account="Sales")


def test_empty_range_is_a_valid_ledger(tmp_path):
    path = tmp_path / "empty.beancount"
    with path.open("w") as out:
        assert write_beancount([], out) == 0
    assert bean_check(path).returncode == 0


def test_json_is_one_array_of_public_objects():
    txs = mixed_day()
    out = io.StringIO()
    assert write_json(iter(txs), out) == len(txs)
    assert json.loads(out.getvalue()) == [tx.to_public() for tx in txs]
    empty = io.StringIO()
    write_json(iter(()), empty)
    assert json.loads(empty.getvalue()) == []


def test_csv_writes_the_header_then_a_row_per_transaction():
    out = io.StringIO()
    assert write_csv(iter(mixed_day()[:2]), out, header=["id", "status"], row=lambda tx: [tx.id, tx.status]) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "id,status" and lines[1].endswith(",partially_refunded") and len(lines) == 3


def test_output_file_is_private_even_over_an_existing_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("old")
    os.chmod(path, 0o644)
    with output_file(path) as out:
        out.write("new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_export_leaves_the_old_file_and_no_partial_one(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with output_file(path) as out:
            out.write("half")
            raise RuntimeError("journal went away")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]


def test_an_unwritable_destination_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write"):
        with output_file(tmp_path / "no-such-folder" / "x.csv"):
            pass
    with pytest.raises(UsageError, match="folder"):
        with output_file(tmp_path):
            pass
