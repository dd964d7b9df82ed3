"""mpos charge through the CLI, against the embedded sandbox acquirer."""

from __future__ import annotations

import re

import pytest

TX_KEYS = {
    "id", "type", "status", "amount_minor", "tip_minor", "total_minor", "currency", "created_at", "card",
    "response_code", "auth_code", "offline", "sandbox", "refunded_minor", "original_id",
}


def test_contactless_sale_is_approved_with_spec_json(mpos):
    result = mpos("charge", "12.50", "--json")
    assert result.exit_code == 0, result
    tx = result.json()
    assert TX_KEYS <= tx.keys()
    assert tx["type"] == "sale" and tx["status"] == "approved"
    assert (tx["amount_minor"], tx["tip_minor"], tx["total_minor"]) == (1250, 0, 1250)
    assert tx["currency"] == "EUR" and tx["sandbox"] is True and tx["offline"] is False
    assert tx["response_code"] == "00" and re.fullmatch(r"[A-Z0-9]{6}", tx["auth_code"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", tx["created_at"])
    card = tx["card"]
    assert card["entry_mode"] == "contactless" and card["cvm"] == "none"
    assert re.fullmatch(r"\d{6}\*+\d{4}", card["masked_pan"])
    assert tx["original_id"] is None and tx["refunded_minor"] == 0


def test_json_output_is_one_document_and_messages_go_to_stderr(mpos):
    result = mpos("charge", "3", "--json")
    assert result.exit_code == 0, result
    assert isinstance(result.json(), dict)
    assert "SANDBOX" in result.stderr


def test_human_output_shows_a_sandbox_receipt(mpos):
    result = mpos("charge", "15")
    assert result.exit_code == 0, result
    assert "SANDBOX" in result.stdout
    assert "15.00" in result.stdout
    assert "APPROVED" in result.stdout.upper()


def test_contactless_above_cvm_limit_asks_for_online_pin(mpos):
    result = mpos("charge", "80.00", "--json")
    assert result.exit_code == 0, result
    assert result.json()["card"]["cvm"] == "online_pin"


def test_chip_with_pin(mpos):
    result = mpos("charge", "20", "--card", "chip", "--json")
    assert result.exit_code == 0, result
    card = result.json()["card"]
    assert (card["entry_mode"], card["cvm"], card["scheme"]) == ("chip", "online_pin", "mastercard")


def test_swipe(mpos):
    result = mpos("charge", "7.20", "--card", "swipe", "--json")
    assert result.exit_code == 0, result
    assert result.json()["card"]["entry_mode"] == "swipe"


@pytest.mark.parametrize("cents, code", [("05", "05"), ("51", "51"), ("54", "54"), ("55", "55"), ("91", "91")])
def test_declines_by_cents(mpos, cents, code):
    result = mpos("charge", f"10.{cents}", "--json")
    assert result.exit_code == 3, result
    tx = result.json()
    assert tx["status"] == "declined" and tx["response_code"] == code and tx["auth_code"] is None
    assert result.stderr.strip().splitlines()[-1].startswith("mpos: error: declined")


def test_tip_counts_in_the_cents_outcome(mpos):
    # 10.00 + 0.05 tip = 10.05: the total decides, so it is declined with 05.
    result = mpos("charge", "10", "--tip", "0.05", "--json")
    assert result.exit_code == 3, result
    assert result.json()["total_minor"] == 1005


def test_tip_amount_and_percent(mpos):
    tx = mpos("charge", "20", "--tip", "2,50", "--json").json()
    assert (tx["amount_minor"], tx["tip_minor"], tx["total_minor"]) == (2000, 250, 2250)
    tx = mpos("charge", "19.99", "--tip-percent", "10", "--json").json()
    assert (tx["tip_minor"], tx["total_minor"]) == (200, 2199)  # 1.999 rounds half up to 2.00


def test_currency_exponents(mpos):
    tx = mpos("charge", "1500", "--currency", "jpy", "--json").json()
    assert (tx["currency"], tx["amount_minor"]) == ("JPY", 1500)
    tx = mpos("charge", "1.234", "--currency", "KWD", "--json").json()
    assert (tx["currency"], tx["amount_minor"]) == ("KWD", 1234)


@pytest.mark.parametrize(
    "scenario, code, status", [("removed", 4, "cancelled"), ("no-card", 4, "cancelled"), ("offline-decline", 3, "declined")]
)
def test_card_scenarios(mpos, scenario, code, status):
    result = mpos("charge", "9.99", "--card", scenario, "--json")
    assert result.exit_code == code, result
    assert result.json()["status"] == status


@pytest.mark.parametrize(
    "args",
    [
        ("charge", "12.345"),
        ("charge", "-5"),
        ("charge", "abc"),
        ("charge", "0"),
        ("charge", "12", "--currency", "ZZZ"),
        ("charge", "12", "--tip", "1", "--tip-percent", "5"),
        ("charge", "12", "--card", "teleport"),
        ("charge", "12", "--offline", "maybe"),
        ("charge", "12", "--bogus"),
    ],
)
def test_bad_input_is_exit_2_one_line_and_writes_nothing(mpos, isolated_home, args):
    result = mpos(*args)
    assert result.exit_code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("mpos: error: ")
    assert result.stdout == ""
    journal = isolated_home / "journal"
    assert not journal.exists() or not any(p.is_file() and p.stat().st_size for p in journal.rglob("*") if not p.name.endswith(".lock"))


def test_amount_is_asked_for_on_a_terminal(mpos):
    result = mpos("charge", "--json", stdin="4,20\n", tty=True)
    assert result.exit_code == 0, result
    assert result.json()["amount_minor"] == 420
    assert "Amount (EUR)" in result.stderr


def test_no_amount_without_a_terminal_is_a_usage_error(mpos):
    result = mpos("charge", stdin="", tty=False)
    assert result.exit_code == 2, result
    assert "no amount" in result.stderr
