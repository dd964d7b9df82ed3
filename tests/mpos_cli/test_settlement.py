"""End of day: settlement and reconciliation through the CLI (issue 7)."""

from __future__ import annotations

import fcntl
import os


def _charge(mpos, *args: str) -> dict:
    result = mpos("charge", *args, "--json")
    assert result.exit_code in (0, 3), result
    return result.json()


def _day_in_two_currencies(mpos) -> None:
    _charge(mpos, "10.00")
    _charge(mpos, "20.00", "--tip", "2.00")
    _charge(mpos, "5.05")  # declined
    refunded = _charge(mpos, "30.00")
    assert mpos("refund", refunded["id"], "--amount", "12.50").exit_code == 0
    voided = _charge(mpos, "7.00")
    assert mpos("void", voided["id"]).exit_code == 0
    _charge(mpos, "15.00", "--currency", "GBP", "--tip-percent", "10")
    gbp_refund = _charge(mpos, "4.00", "--currency", "GBP")
    assert mpos("refund", gbp_refund["id"]).exit_code == 0


def test_a_day_in_two_currencies_balances(mpos):
    _day_in_two_currencies(mpos)
    result = mpos("settle", "--json")
    assert result.exit_code == 0, result
    summary = result.json()
    assert summary["status"] == "balanced" and summary["differences"] == []
    eur, gbp = summary["totals"]["EUR"], summary["totals"]["GBP"]
    # EUR: 10 + 22 (tip) + 30 taken, 12.50 refunded; the void and the decline are not in the batch.
    assert (eur["sales_count"], eur["sales_minor"], eur["refunds_count"], eur["refunds_minor"]) == (3, 6200, 1, 1250)
    assert (eur["net_minor"], eur["tips_minor"]) == (4950, 200)
    # GBP: 15 + 1.50 tip and 4.00, the 4.00 fully refunded.
    assert (gbp["sales_count"], gbp["sales_minor"], gbp["refunds_minor"], gbp["net_minor"]) == (2, 2050, 400, 1650)
    for code in ("EUR", "GBP"):
        for key in ("sales_count", "sales_minor", "refunds_count", "refunds_minor", "net_minor"):
            assert summary["acquirer_totals"][code][key] == summary["totals"][code][key]
    listed = mpos("journal", "list", "--status", "approved", "--json").json()
    assert all(tx["batch_id"] == summary["batch_id"] for tx in listed if tx["type"] == "sale")


def test_a_difference_at_the_acquirer_is_reported_with_exit_7_and_repeating_is_harmless(mpos):
    from mpos_cli.env import Environment
    from mpos_cli.gateway.base import SeedSale
    from mpos_cli.pos import PointOfSale

    _charge(mpos, "10.00")
    # The acquirer holds a sale the journal never saw (written through its own API).
    with PointOfSale(Environment()) as pos:
        pos.gateway.seed(
            [SeedSale(reference="ghost-0001", amount_minor=999, tip_minor=0, currency="EUR",
                      captured_at=pos.env.now().isoformat(), masked_pan="476173******0010", scheme="visa")]
        )
    result = mpos("settle", "--json")
    assert result.exit_code == 7, result
    summary = result.json()
    assert summary["status"] == "out_of_balance"
    assert {"currency": "EUR", "field": "sales_minor", "local": 1000, "acquirer": 1999} in summary["differences"]
    assert summary["unknown_to_journal"] == ["ghost-0001"]
    assert "out of balance" in result.stderr
    human = mpos("settle")
    assert human.exit_code == 0, human  # the batch is closed: nothing new, nothing sent twice
    assert "EMPTY" in human.stdout.upper()
    ledger = mpos("sandbox", "ledger", "--json").json()
    assert sum(1 for row in ledger if row["status"] == "settled") == 2


def test_settle_is_locked_against_a_second_settle(mpos, isolated_home):
    _charge(mpos, "10.00")
    assert mpos("config", "set", "journal.lock_timeout", "0.3").exit_code == 0
    lock = os.open(isolated_home / "settle.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = mpos("settle", "--json")
    finally:
        os.close(lock)
    assert result.exit_code == 8, result
    assert "another mpos settle is running" in result.stderr
    assert mpos("settle", "--json").json()["status"] == "balanced"


def test_settle_with_nothing_to_do_is_empty(mpos):
    result = mpos("settle", "--json")
    assert result.exit_code == 0, result
    assert result.json()["status"] == "empty"
    assert mpos("settle", "--date", "2026-13-01").exit_code == 2


def test_settle_from_cron_has_no_colour_and_no_prompt(mpos_process):
    assert mpos_process("charge", "6.00", "--json").exit_code == 0
    result = mpos_process("settle", env={"NO_COLOR": ""}, stdin="")
    assert result.exit_code == 0, result
    assert "\x1b[" not in result.stdout and "BALANCED" in result.stdout
