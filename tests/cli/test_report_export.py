"""mpos report and mpos export through the CLI, on payments taken in the sandbox."""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from mpos_cli.reports import CSV_HEADER as REPORT_CSV_HEADER


@pytest.fixture
def day_of_trading(mpos):
    """Sales, a tip, a partial refund, a void, a decline and a JPY sale, all today."""

    def charge(*args: str, expect: int = 0) -> dict:
        result = mpos("charge", *args, "--json")
        assert result.exit_code == expect, result
        return result.json()

    tipped = charge("12.50", "--tip", "1")
    refunded = charge("20")
    assert mpos("refund", refunded["id"], "--amount", "5", "--json").exit_code == 0
    voided = charge("8", "--card", "chip")
    assert mpos("void", voided["id"], "--json").exit_code == 0
    declined = charge("10.51", expect=3)
    yen = charge("1500", "--currency", "JPY")
    return {"tipped": tipped, "refunded": refunded, "voided": voided, "declined": declined, "yen": yen}


def add_past_sale(days_ago: int, amount_minor: int = 4200):
    """A sale recorded on an earlier business day (the CLI only takes payments today)."""
    from mpos_cli.env import Environment
    from mpos_cli.pos import PointOfSale
    from mpos_cli.transaction import Card, Stage, Transaction, TxStatus, TxType, new_transaction_id

    env = Environment()
    pos = PointOfSale(env)
    moment = env.now() - timedelta(days=days_ago)
    day = env.business_date(moment)
    tx = Transaction(
        id=new_transaction_id(day), type=TxType.SALE, status=TxStatus.APPROVED, stage=Stage.DONE,
        amount_minor=amount_minor, tip_minor=0, currency="EUR", created_at=moment, business_date=day, sandbox=True,
        card=Card(scheme="visa", masked_pan="476173******0010", entry_mode="contactless", cvm="none"),
        response_code="00", auth_code="PAST01",
    )
    try:
        pos.journal.add(tx)
    finally:
        pos.close()
    return tx


def bean_check(path: Path) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).with_name("bean-check")
    command = str(beside) if beside.exists() else shutil.which("bean-check")
    assert command, "bean-check is missing: pip install -e '.[test]'"
    return subprocess.run([command, str(path)], capture_output=True, text=True, timeout=120)


# -- mpos report ---------------------------------------------------------------


def test_report_json_totals_a_day_of_trading(mpos, day_of_trading):
    result = mpos("report", "--json")
    assert result.exit_code == 0, result
    document = result.json()
    assert document["report"] == "x" and document["sandbox"] is True
    assert document["date_from"] == document["date_to"]
    eur = document["currencies"]["EUR"]["totals"]
    assert eur["sales_count"] == 2  # 13.50 with its tip and 20.00; the void and the decline took nothing
    assert eur["sales_minor"] == 1350 + 2000
    assert eur["tips_minor"] == 100
    assert (eur["refunds_count"], eur["refunds_minor"]) == (1, 500)
    assert eur["net_minor"] == 3350 - 500
    assert (eur["voids_count"], eur["declines_count"]) == (1, 1)
    assert document["currencies"]["JPY"]["totals"]["sales_minor"] == 1500
    by_mode = document["currencies"]["EUR"]["by_entry_mode"]
    assert by_mode["contactless"]["sales_count"] == 2 and by_mode["chip"]["voids_count"] == 1
    hours = document["currencies"]["EUR"]["by_hour"]
    assert hours and all(len(hour) == 2 and 0 <= int(hour) <= 23 for hour in hours)
    assert sum(tally["sales_minor"] for tally in hours.values()) == eur["sales_minor"]


def test_report_agrees_with_the_settlement_it_precedes(mpos, day_of_trading):
    report = mpos("report", "--json").json()["currencies"]
    settle = mpos("settle", "--dry-run", "--json")
    assert settle.exit_code == 0, settle
    for code, totals in settle.json()["totals"].items():
        for key in ("sales_count", "sales_minor", "refunds_count", "refunds_minor", "net_minor"):
            assert report[code]["totals"][key] == totals[key], (code, key)


def test_report_defaults_to_today(mpos, day_of_trading):
    past = add_past_sale(days_ago=3)
    today = mpos("report", "--json").json()
    assert today["currencies"]["EUR"]["totals"]["sales_count"] == 2
    wider = mpos("report", "--from", past.business_date, "--json").json()
    assert wider["currencies"]["EUR"]["totals"]["sales_count"] == 3
    only_then = mpos("report", "--date", past.business_date, "--json").json()
    assert only_then["currencies"]["EUR"]["totals"]["sales_minor"] == 4200
    assert "JPY" not in only_then["currencies"]


def test_report_csv_has_its_documented_header(mpos, day_of_trading):
    result = mpos("report", "--csv")
    assert result.exit_code == 0, result
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == REPORT_CSV_HEADER
    assert rows[1][:3] == ["EUR", "total", "all"]
    assert int(rows[1][REPORT_CSV_HEADER.index("net_minor")]) == 2850
    assert {row[1] for row in rows[1:]} == {"total", "method", "scheme", "entry_mode", "hour"}


def test_report_for_people(mpos, day_of_trading):
    result = mpos("report")
    assert result.exit_code == 0, result
    assert "X-report" in result.stdout and "SANDBOX" in result.stdout
    assert "EUR" in result.stdout and "JPY" in result.stdout and "28.50" in result.stdout
    assert "\x1b[" not in result.stdout  # NO_COLOR and not a terminal


def test_report_of_an_empty_day(mpos):
    result = mpos("report", "--json")
    assert result.exit_code == 0, result
    assert result.json()["currencies"] == {}
    assert "No payments" in mpos("report").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--date", "2026-02-30"),
        ("--from", "24/11/2026"),
        ("--from", "2026-11-24", "--to", "2026-11-01"),
        ("--date", "2026-11-24", "--from", "2026-11-01"),
        ("--json", "--csv"),
    ],
)
def test_report_bad_input_is_one_line_and_exit_2(mpos, args):
    result = mpos("report", *args)
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def _run_with_stderr(args: list[str], *, tty: bool) -> str:
    from mpos_cli.cli import run
    from mpos_cli.env import Environment

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    out, err = io.StringIO(), Stream()
    assert run(args, Environment(environ=dict(os.environ), stdout=out, stderr=err)) == 0, err.getvalue()
    return err.getvalue()


def test_progress_bar_only_for_long_ranges_on_a_terminal(day_of_trading, monkeypatch):
    monkeypatch.setenv("TERM", "xterm")  # rich draws nothing live on a dumb terminal
    add_past_sale(days_ago=200)
    start = "2020-01-01"
    assert "Reading the journal" in _run_with_stderr(["report", "--from", start, "--json"], tty=True)
    assert "Reading the journal" not in _run_with_stderr(["report", "--from", start, "--json"], tty=False)
    assert "Reading the journal" not in _run_with_stderr(["report", "--json"], tty=True)  # one day


# -- mpos export ---------------------------------------------------------------


def test_export_beancount_file_passes_bean_check(mpos, day_of_trading, tmp_path):
    path = tmp_path / "books" / "mpos.beancount"
    path.parent.mkdir()
    result = mpos("export", "--format", "beancount", "--output", str(path))
    assert result.exit_code == 0, result
    assert result.stdout == ""
    assert "Wrote 4 ledger transactions" in result.stderr  # two sales, a refund, the JPY sale
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    checked = bean_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = path.read_text()
    for tx in (day_of_trading["tipped"], day_of_trading["refunded"], day_of_trading["yen"]):
        assert f'mpos_id: "{tx["id"]}"' in text and f'auth_code: "{tx["auth_code"]}"' in text
    assert f'mpos_id: "{day_of_trading["voided"]["id"]}"' not in text
    assert f'mpos_id: "{day_of_trading["declined"]["id"]}"' not in text
    assert "Income:Tips" in text and "1500 JPY" in text


def test_export_json_is_the_journal_as_one_array(mpos, day_of_trading):
    exported = mpos("export", "--format", "json")
    assert exported.exit_code == 0, exported
    assert exported.json() == mpos("journal", "list", "--json").json()
    assert len(exported.json()) == 7  # five sales (voided and declined ones too), the refund, the void


def test_export_csv_matches_journal_csv(mpos, day_of_trading, tmp_path):
    path = tmp_path / "mpos.csv"
    assert mpos("export", "--format", "csv", "-o", str(path)).exit_code == 0
    assert path.read_text() == mpos("journal", "list", "--csv").stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_range(mpos, day_of_trading):
    past = add_past_sale(days_ago=40)
    only_past = mpos("export", "--format", "json", "--from", past.business_date, "--to", past.business_date).json()
    assert [tx["id"] for tx in only_past] == [past.id]
    assert len(mpos("export", "--format", "json").json()) == 8


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "csv", "--from", "2026-11-31"),
        ("--format", "beancount", "--to", "tomorrow"),
        ("--format", "json", "--from", "2026-11-24", "--to", "2026-11-01"),
        ("--format", "xml",),
    ],
)
def test_export_bad_input_writes_nothing(mpos, tmp_path, args):
    path = tmp_path / "out"
    result = mpos("export", *args, "--output", str(path))
    assert result.exit_code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_missing_folder_is_one_line(mpos, tmp_path):
    result = mpos("export", "--format", "csv", "--output", str(tmp_path / "nowhere" / "x.csv"))
    assert result.exit_code == 2, result
    assert "cannot write" in result.stderr and len(result.stderr.strip().splitlines()) == 1
