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
        ("charge", "12", "--currency", "XAU"),
        ("charge", "12", "--currency", "BOV"),
        ("charge", "5", "USD"),
        ("charge", "£3.20"),
        ("charge", "12.50", "EUR", "--currency", "GBP"),
        ("charge", "12", "EUR", "now"),
        ("charge", "12", "--tip-percent", "10%%"),
        ("charge", "12", "--tip", "2 USD"),
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
    assert mpos("charge", "--json", stdin="4,20 €\n", tty=True).json()["amount_minor"] == 420


def test_no_amount_without_a_terminal_is_a_usage_error(mpos):
    result = mpos("charge", stdin="", tty=False)
    assert result.exit_code == 2, result
    assert "no amount" in result.stderr


@pytest.fixture
def reader_requests(monkeypatch):
    """What the simulated reader was asked to do (its Activate Transaction data), as the card sees it."""
    from mpos_cli.drivers.sim.device import SimulatedReaderDevice

    seen: list[dict[str, str]] = []
    activate = SimulatedReaderDevice.activate_transaction

    def recording(self, request):
        seen.append(dict(request))
        return activate(self, request)

    monkeypatch.setattr(SimulatedReaderDevice, "activate_transaction", recording)
    return seen


def test_forint_has_iso_minor_units_on_the_card_and_at_the_acquirer(mpos, reader_requests):
    # ISO 4217: HUF has 2 minor units (CLDR, and mpos before, said 0: 1 HUF went to the card as 1 fillér).
    tx = mpos("charge", "1", "--currency", "HUF", "--json").json()
    assert (tx["currency"], tx["amount_minor"], tx["total_minor"]) == ("HUF", 100, 100)
    # EMV 9F02 Amount, Authorised: n12 in minor units; 5F2A: ISO 4217 numeric 348, n3 in two bytes.
    assert [(r["9F02"], r["5F2A"]) for r in reader_requests] == [("000000000100", "0348")]
    ledger = mpos("sandbox", "ledger", "--json").json()
    assert [(e["reference"], e["total_minor"], e["currency"]) for e in ledger] == [(tx["id"], 100, "HUF")]


def test_forint_with_filler_is_accepted_and_shown_exactly(mpos):
    tx = mpos("charge", "1500.50 HUF", "--currency", "huf", "--json").json()
    assert (tx["status"], tx["amount_minor"]) == ("approved", 150050)
    shown = mpos("journal", "show", tx["id"])
    assert "HUF1,500.50" in shown.stdout, shown


@pytest.mark.parametrize("code, typed, minor, numeric", [
    ("XOF", "1500", 1500, "0952"), ("XAF", "1500", 1500, "0950"), ("XCD", "12.30", 1230, "0951"),
    ("XPF", "990", 990, "0953"), ("XCG", "7.20", 720, "0532"),
])
def test_regional_currencies_are_charged(mpos, reader_requests, code, typed, minor, numeric):
    result = mpos("charge", typed, "--currency", code, "--json")
    assert result.exit_code == 0, result
    assert (result.json()["currency"], result.json()["total_minor"]) == (code, minor)
    assert (reader_requests[-1]["9F02"], reader_requests[-1]["5F2A"]) == (f"{minor:012d}", numeric)


@pytest.mark.parametrize("code", ["XAU", "XTS", "XDR", "XSU", "CHE", "UYW"])
def test_non_money_codes_are_refused_with_a_reason(mpos, reader_requests, code):
    result = mpos("charge", "10", "--currency", code)
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f"mpos: error: {code} (") and "not a currency to take payments in" in result.stderr
    assert reader_requests == []


@pytest.mark.parametrize("args, currency, minor", [
    (("€5",), "EUR", 500), (("5€",), "EUR", 500), (("5 EUR",), "EUR", 500), (("EUR 5",), "EUR", 500),
    (("12.50", "EUR"), "EUR", 1250), (("12,50", "eur"), "EUR", 1250), (("£3.20", "--currency", "GBP"), "GBP", 320),
    (("1500", "JPY", "--currency", "JPY"), "JPY", 1500),
])
def test_amounts_with_their_currency(mpos, args, currency, minor):
    result = mpos("charge", *args, "--json")
    assert result.exit_code == 0, result
    assert (result.json()["currency"], result.json()["amount_minor"]) == (currency, minor)


@pytest.mark.parametrize("args, hint", [
    (("5", "USD"), "use --currency USD"),
    (("5 USD",), "use --currency USD"),
    (("£3.20",), "use --currency GBP"),
    (("12.50", "EUR", "--currency", "GBP"), "use --currency EUR"),
    (("€12.50", "--currency", "GBP"), "use --currency EUR"),
    (("10", "--tip", "$1"), "use --currency USD"),
])
def test_another_currency_in_the_amount_gets_the_currency_hint(mpos, reader_requests, args, hint):
    result = mpos("charge", *args)
    assert result.exit_code == 2, result
    assert result.stderr.strip().endswith(hint) and len(result.stderr.strip().splitlines()) == 1
    assert reader_requests == []


def test_tip_percent_with_a_percent_sign_and_tip_with_a_sign(mpos):
    tx = mpos("charge", "19.99", "--tip-percent", "10%", "--json").json()
    assert (tx["tip_minor"], tx["total_minor"]) == (200, 2199)
    tx = mpos("charge", "20", "--tip", "€2,50", "--json").json()
    assert (tx["tip_minor"], tx["total_minor"]) == (250, 2250)
    # 12.5% of 0.12 HUF (12 fillér) is 1.5 fillér: an exact half, rounded up.
    tx = mpos("charge", "0.12", "--currency", "HUF", "--tip-percent", "12.5 %", "--json").json()
    assert (tx["status"], tx["tip_minor"], tx["total_minor"]) == ("approved", 2, 14)


def test_refund_amount_with_a_sign_and_in_the_wrong_currency(mpos):
    sale = mpos("charge", "20", "--json").json()
    refund = mpos("refund", sale["id"], "--amount", "€5", "--json")
    assert refund.exit_code == 0, refund
    assert refund.json()["amount_minor"] == 500
    wrong = mpos("refund", sale["id"], "--amount", "5 USD")
    assert wrong.exit_code == 2, wrong
    assert wrong.stderr.strip().endswith("a refund is in the currency of the sale, EUR")
    assert mpos("journal", "show", sale["id"], "--json").json()["refunded_minor"] == 500
