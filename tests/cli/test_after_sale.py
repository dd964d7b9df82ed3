"""Refunds, voids, the journal, receipts and settlement through the CLI."""

from __future__ import annotations

import pytest


@pytest.fixture
def sale(mpos):
    def make(amount: str = "20.00", *extra: str) -> dict:
        result = mpos("charge", amount, "--json", *extra)
        assert result.exit_code == 0, result
        return result.json()

    return make


def test_full_refund(mpos, sale):
    tx = sale("20.00")
    result = mpos("refund", tx["id"], "--json")
    assert result.exit_code == 0, result
    refund = result.json()
    assert (refund["type"], refund["status"], refund["original_id"]) == ("refund", "approved", tx["id"])
    assert refund["amount_minor"] == 2000
    original = mpos("journal", "show", tx["id"], "--json").json()
    assert (original["status"], original["refunded_minor"]) == ("refunded", 2000)


def test_partial_refunds_then_over_refund_is_refused(mpos, sale):
    tx = sale("20.00")
    assert mpos("refund", tx["id"], "--amount", "5", "--json").exit_code == 0
    original = mpos("journal", "show", tx["id"], "--json").json()
    assert (original["status"], original["refunded_minor"]) == ("partially_refunded", 500)
    over = mpos("refund", tx["id"], "--amount", "15.01")
    assert over.exit_code == 2, over
    assert "more than" in over.stderr
    assert mpos("refund", tx["id"], "--amount", "15", "--json").exit_code == 0
    assert mpos("journal", "show", tx["id"], "--json").json()["status"] == "refunded"


def test_void(mpos, sale):
    tx = sale("8.00")
    result = mpos("void", tx["id"], "--json")
    assert result.exit_code == 0, result
    assert result.json()["type"] == "void"
    assert mpos("journal", "show", tx["id"], "--json").json()["status"] == "voided"
    again = mpos("void", tx["id"])
    assert again.exit_code == 2, again


def test_unknown_ids_are_usage_errors(mpos):
    for args in (("refund", "20261124-NOPE00"), ("void", "nope"), ("journal", "show", "x"), ("receipt", "x")):
        result = mpos(*args)
        assert result.exit_code == 2, result
        assert len(result.stderr.strip().splitlines()) == 1


def test_declined_sale_cannot_be_refunded(mpos):
    declined = mpos("charge", "3.05", "--json").json()
    result = mpos("refund", declined["id"])
    assert result.exit_code == 2, result


def test_journal_list_filters_and_formats(mpos, sale):
    approved = sale("4.00")
    mpos("charge", "4.51", "--json")
    everything = mpos("journal", "list", "--json").json()
    assert [tx["status"] for tx in everything] == ["approved", "declined"]
    only = mpos("journal", "list", "--status", "approved", "--json").json()
    assert [tx["id"] for tx in only] == [approved["id"]]
    today = approved["created_at"][:10]
    assert len(mpos("journal", "list", "--date", today, "--json").json()) == 2
    assert mpos("journal", "list", "--date", "1999-01-01", "--json").json() == []
    csv = mpos("journal", "list", "--csv").stdout.splitlines()
    assert csv[0].startswith("id,type,status")
    assert len(csv) == 3 and "4.00" in csv[1]
    assert mpos("journal", "list", "--date", "24/11/2026").exit_code == 2
    table = mpos("journal", "list")
    assert approved["id"] in table.stdout


def test_receipt_formats(mpos, sale, tmp_path):
    tx = sale("12.50")
    text = mpos("receipt", tx["id"], "--format", "text")
    assert text.exit_code == 0, text
    assert "€12.50" in text.stdout and "SANDBOX" in text.stdout and tx["id"] in text.stdout
    # The customer's copy shows the last four digits only; the merchant's the first six too.
    assert "************" + tx["card"]["masked_pan"][-4:] in text.stdout
    merchant = mpos("receipt", tx["id"], "--format", "text", "--copy", "merchant")
    assert "MERCHANT COPY" in merchant.stdout and tx["card"]["masked_pan"] in merchant.stdout
    out = tmp_path / "r.html"
    html = mpos("receipt", tx["id"], "--format", "html", "--output", str(out))
    assert html.exit_code == 0, html
    assert "12.50" in out.read_text() and oct(out.stat().st_mode & 0o777) == "0o600"
    escpos = tmp_path / "r.bin"
    assert mpos("receipt", tx["id"], "--format", "escpos", "--output", str(escpos)).exit_code == 0
    assert escpos.read_bytes().startswith(b"\x1b@")
    assert mpos("receipt", tx["id"], "--format", "pdf").exit_code == 2


def test_settle_balances_then_is_harmless_to_repeat(mpos, sale):
    sale("10.00")
    sale("5.00", "--tip", "1")
    refund_of = sale("7.00")
    mpos("refund", refund_of["id"], "--amount", "2", "--json")
    voided = sale("3.00")
    mpos("void", voided["id"])
    mpos("charge", "9.05")  # declined: not in the batch
    result = mpos("settle", "--json")
    assert result.exit_code == 0, result
    summary = result.json()
    assert summary["status"] == "balanced"
    eur = summary["totals"]["EUR"]
    assert (eur["sales_count"], eur["sales_minor"]) == (3, 2300)
    assert (eur["refunds_count"], eur["refunds_minor"], eur["net_minor"]) == (1, 200, 2100)
    assert summary["acquirer_totals"]["EUR"]["net_minor"] == 2100
    assert summary["differences"] == []
    again = mpos("settle", "--json")
    assert again.exit_code == 0, again
    assert again.json()["status"] == "empty"
    ledger = mpos("sandbox", "ledger", "--json").json()
    settled = [entry for entry in ledger if entry.get("status") == "settled"]
    assert len(settled) >= 3


def test_settle_dry_run_closes_nothing(mpos, sale):
    sale("10.00")
    dry = mpos("settle", "--dry-run", "--json")
    assert dry.exit_code == 0, dry
    assert dry.json()["totals"]["EUR"]["sales_minor"] == 1000 and dry.json()["batch_id"] is None
    assert mpos("settle", "--json").json()["status"] == "balanced"


def test_config_set_show_and_secret_refused(mpos, isolated_home):
    assert mpos("config", "set", "currency", "gbp").exit_code == 0
    shown = mpos("config", "show", "--json").json()
    assert {"key": "currency", "value": "GBP"}.items() <= next(s for s in shown["settings"] if s["key"] == "currency").items()
    assert mpos("charge", "2", "--json").json()["currency"] == "GBP"
    # A key and a key below it ("reader" and "reader.timeout") live side by side.
    assert mpos("config", "set", "reader", "sim").exit_code == 0
    assert mpos("config", "set", "reader.timeout", "30").exit_code == 0
    values = {s["key"]: s["value"] for s in mpos("config", "show", "--json").json()["settings"]}
    assert (values["reader"], values["reader.timeout"]) == ("sim", 30.0)
    config = isolated_home / "config.toml"
    before = config.read_bytes()
    assert mpos("config", "set", "currency", "ZZZ").exit_code == 2
    assert mpos("config", "set", "gateway.key", "s3cret").exit_code == 2
    assert mpos("config", "set", "no.such.key", "1").exit_code == 2
    assert config.read_bytes() == before
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def test_corrupt_config_is_exit_8_and_left_untouched(mpos, isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    config = isolated_home / "config.toml"
    config.write_bytes(b"currency = [unterminated\n")
    for args in (("charge", "5"), ("journal", "list"), ("config", "set", "currency", "EUR")):
        result = mpos(*args)
        assert result.exit_code == 8, result
        assert len(result.stderr.strip().splitlines()) == 1
    assert config.read_bytes() == b"currency = [unterminated\n"


def test_corrupt_journal_is_exit_8_and_never_overwritten(mpos, isolated_home, sale):
    tx = sale("5.00")
    files = [p for p in (isolated_home / "journal").rglob("*") if p.is_file() and not p.name.endswith(".lock") and p.stat().st_size]
    assert files
    target = max(files, key=lambda p: p.stat().st_size)
    damaged = bytearray(target.read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 8] = b"\x00garbage"
    target.write_bytes(bytes(damaged))
    snapshot = {p: p.read_bytes() for p in files}
    for args in (("charge", "5"), ("journal", "list"), ("journal", "show", tx["id"]), ("refund", tx["id"])):
        result = mpos(*args)
        assert result.exit_code == 8, result
    assert {p: p.read_bytes() for p in files} == snapshot


def test_sandbox_as_its_own_process(mpos, mpos_process, isolated_home, tmp_path):
    from tests.helpers.sandbox import ServedSandbox

    server = ServedSandbox(tmp_path / "acquirer-home", key=None).start()
    try:
        url = {"MPOS_GATEWAY_URL": server.url}
        approved = mpos_process("charge", "11.00", "--json", env=url)
        assert approved.exit_code == 0, approved
        declined = mpos_process("charge", "11.51", "--json", env=url)
        assert declined.exit_code == 3, declined
        ledger = mpos_process("sandbox", "ledger", "--json", env=url).json()
        states = {entry["reference"]: entry["status"] for entry in ledger}
        assert states[approved.json()["id"]] == "approved"
        assert states[declined.json()["id"]] == "declined"
    finally:
        server.stop()
