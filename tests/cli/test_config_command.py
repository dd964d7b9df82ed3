"""mpos config set/unset/show through the CLI, and what a bad setting does to
every other command: refused at start-up, before the reader or the acquirer
hears anything (issue 13)."""

from __future__ import annotations

import socket

import pytest

from tests.helpers.bad_settings import ISSUE_13_REPROS

# The same values written into the file by hand, and a few more ways to spoil it.
HAND_EDITED = {
    "offline.max_amount": '[offline]\nmax_amount = "abc"\n',
    "contactless.cvm_limit": '[contactless]\ncvm_limit = "abc"\n',
    "locale": 'locale = "xx_YY"\n',
    "timezone": 'timezone = "Mars/Base"\n',
    "gateway.url": '[gateway]\nurl = "http://example.com"\n',
    "offline.max_total": 'currency = "JPY"\n[offline]\nmax_total = "500.00"\n',  # yen have no cents
    "offline.max_amout": '[offline]\nmax_amout = "20"\n',  # misspelt: the default limit would stay in force
    "gateway.key": '[gateway]\nkey = "s3cret-hand-written"\n',
    "reader.timeout": '"reader.timeout" = true\n',
}


@pytest.fixture
def config_file(isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    return isolated_home / "config.toml"


@pytest.fixture
def traffic(monkeypatch):
    """Every reader opened and every acquirer connection made, in this process."""
    import mpos_cli.drivers.registry
    import mpos_cli.gateway

    seen: list[str] = []
    open_reader, open_gateway = mpos_cli.drivers.registry.open_reader, mpos_cli.gateway.open_gateway

    def reader(*args, **kwargs):
        seen.append("reader")
        return open_reader(*args, **kwargs)

    def gateway(*args, **kwargs):
        seen.append("acquirer")
        return open_gateway(*args, **kwargs)

    monkeypatch.setattr(mpos_cli.drivers.registry, "open_reader", reader)
    monkeypatch.setattr(mpos_cli.gateway, "open_gateway", gateway)
    return seen


def journal_logs(home) -> list:
    journal = home / "journal"
    return [p for p in journal.rglob("*") if p.is_file() and p.stat().st_size and not p.name.endswith(".lock")] \
        if journal.exists() else []


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mpos: error: "), result
    return lines[0]


# -- config set ---------------------------------------------------------------------------


@pytest.mark.parametrize("key, value", ISSUE_13_REPROS)
def test_issue_13_values_are_refused_at_config_set_with_nothing_written(mpos, config_file, key, value):
    refused = mpos("config", "set", key, value)
    assert refused.exit_code == 2, refused
    assert key in one_error_line(refused)
    assert not config_file.exists()
    assert mpos("config", "set", "merchant.name", "Ana's Coffee Cart").exit_code == 0
    before = config_file.read_bytes()
    again = mpos("config", "set", key, value)
    assert again.exit_code == 2, again
    assert config_file.read_bytes() == before


@pytest.mark.parametrize("key", ["gateway.key", "gateway.secret", "hub.password", "gateway.token"])
def test_secrets_can_never_be_set(mpos, config_file, key):
    result = mpos("config", "set", key, "s3cret-value")
    assert result.exit_code == 2, result
    assert "secret" in one_error_line(result) and "s3cret-value" not in result.stderr + result.stdout
    assert not config_file.exists()


def test_an_unknown_key_is_refused_by_set_and_unset(mpos, config_file):
    for args in (("set", "offline.max_amout", "20"), ("unset", "offline.max_amout")):
        result = mpos("config", *args)
        assert result.exit_code == 2, result
        one_error_line(result)
    assert not config_file.exists()


def test_limits_are_written_with_the_currency_and_the_sale_uses_them(mpos, config_file):
    assert mpos("config", "set", "contactless.cvm_limit", "20").exit_code == 0
    assert '"contactless.cvm_limit" = "20.00 EUR"' in config_file.read_text()
    shown = {s["key"]: s for s in mpos("config", "show", "--json").json()["settings"]}
    assert shown["contactless.cvm_limit"]["value"] == "20.00 EUR" and shown["contactless.cvm_limit"]["problem"] is None
    assert mpos("charge", "19.99", "--json").json()["card"]["cvm"] == "none"
    assert mpos("charge", "20.01", "--json").json()["card"]["cvm"] == "online_pin"


# -- config unset -------------------------------------------------------------------------


def test_unset_goes_back_to_the_default(mpos, config_file):
    assert mpos("config", "set", "offline.max_count", "2").exit_code == 0
    assert mpos("config", "set", "timezone", "Europe/Dublin").exit_code == 0
    result = mpos("config", "unset", "offline.max_count")
    assert result.exit_code == 0, result
    assert "default" in result.stderr
    shown = {s["key"]: s for s in mpos("config", "show", "--json").json()["settings"]}
    assert (shown["offline.max_count"]["value"], shown["offline.max_count"]["source"]) == (50, "default")
    assert shown["timezone"]["value"] == "Europe/Dublin"
    before = config_file.read_bytes()
    assert mpos("config", "unset", "offline.max_count").exit_code == 0  # not set: nothing to write
    assert config_file.read_bytes() == before


# -- a file spoilt by hand ------------------------------------------------------------------


@pytest.mark.parametrize("key", list(HAND_EDITED))
def test_a_hand_edited_bad_setting_stops_a_sale_before_the_reader_or_the_acquirer(mpos, isolated_home, config_file,
                                                                                   traffic, key):
    config_file.write_text(HAND_EDITED[key])
    before = config_file.read_bytes()
    result = mpos("charge", "5.00", "--json")
    assert result.exit_code == 8, result
    line = one_error_line(result)
    assert key in line and f"mpos config unset {key}" in line
    assert "s3cret" not in result.stderr and result.stdout == ""
    assert traffic == []  # no reader opened, no acquirer reached
    assert journal_logs(isolated_home) == []  # not even a pending intent
    assert config_file.read_bytes() == before

    # Repaired with the command the line named, the acquirer's own ledger shows it heard nothing.
    assert mpos("config", "unset", key).exit_code == 0
    ledger = mpos("sandbox", "ledger", "--json")
    assert ledger.exit_code == 0, ledger
    assert ledger.json() == []
    assert traffic == ["acquirer"]  # the spy does see traffic (the ledger asked the acquirer)


@pytest.mark.parametrize(
    "args",
    [("charge", "5", "--currency", "GBP"), ("refund", "last"), ("void", "last"), ("recover",), ("offline", "forward"),
     ("offline", "status"), ("settle",), ("journal", "list"), ("report",), ("reader", "status"), ("reader", "scan"),
     ("receipt", "last")],
)
def test_every_command_that_reads_the_config_refuses_a_bad_file(mpos, isolated_home, config_file, traffic, args):
    config_file.write_text('locale = "xx_YY"\n')
    result = mpos(*args)
    assert result.exit_code == 8, result
    assert "locale" in one_error_line(result)
    assert traffic == [] and journal_logs(isolated_home) == []


def test_config_show_flags_the_bad_values_and_still_shows_the_rest(mpos, config_file):
    config_file.write_text(
        'currency = "GBP"\nlocale = "xx_YY"\n[offline]\nmax_amount = "abc"\nmax_amout = "20"\n'
        '[gateway]\nkey = "s3cret-hand-written"\n[terminal]\nid = "CART-01"\n'
    )
    shown = mpos("config", "show", "--json")
    assert shown.exit_code == 8, shown
    assert "3 more: each is flagged in the output" in one_error_line(shown)
    rows = {row["key"]: row for row in shown.json()["settings"]}
    flagged = {key for key, row in rows.items() if row["problem"]}
    assert flagged == {"locale", "offline.max_amount", "offline.max_amout", "gateway.key"}
    assert rows["locale"]["value"] == "xx_YY" and "unknown locale" in rows["locale"]["problem"]
    assert rows["terminal.id"]["value"] == "CART-01" and rows["currency"]["value"] == "GBP"
    assert rows["offline.max_total"]["value"] == "500.00 GBP"  # the default, in the file's currency
    assert "s3cret" not in shown.stdout + shown.stderr

    human = mpos("config", "show")
    assert human.exit_code == 8
    assert human.stdout.count("BAD:") == 4 and "CART-01" in human.stdout


def test_config_set_and_unset_repair_a_bad_file(mpos, config_file):
    config_file.write_text('locale = "xx_YY"\n[offline]\nmax_amount = "abc"\n')
    assert mpos("charge", "5").exit_code == 8
    assert mpos("config", "set", "locale", "de_AT").exit_code == 0
    still = mpos("charge", "5")
    assert still.exit_code == 8 and "offline.max_amount" in still.stderr  # the other one was left as written
    assert mpos("config", "unset", "offline.max_amount").exit_code == 0
    assert mpos("config", "show").exit_code == 0
    sale = mpos("charge", "5", "--json")
    assert sale.exit_code == 0, sale
    assert sale.json()["status"] == "approved"


def test_a_bad_environment_override_is_exit_2_before_anything(mpos, isolated_home, traffic):
    for name, value in (("MPOS_READER", "carrier-pigeon"), ("MPOS_GATEWAY_TIMEOUT", "soon"),
                        ("MPOS_GATEWAY_URL", "http://example.com")):
        result = mpos("charge", "5", env={name: value})
        assert result.exit_code == 2, result
        assert name in one_error_line(result)
    assert traffic == [] and journal_logs(isolated_home) == []


def test_a_bad_file_is_exit_8_in_its_own_process(mpos_process, config_file):
    config_file.write_text('timezone = "Mars/Base"\n')
    result = mpos_process("charge", "5")
    assert result.exit_code == 8, result
    assert "timezone" in one_error_line(result)


# -- money limits keep their meaning --------------------------------------------------------


def test_changing_the_currency_never_breaks_a_sale(mpos, config_file):
    assert mpos("config", "set", "offline.max_amount", "60").exit_code == 0
    config_file.write_text(config_file.read_text() + '"contactless.cvm_limit" = "20.00"\n')  # by hand, no code
    changed = mpos("config", "set", "currency", "JPY")
    assert changed.exit_code == 0, changed
    assert "offline.max_amount is 60.00 EUR" in changed.stderr and "contactless.cvm_limit is 20.00 EUR" in changed.stderr
    text = config_file.read_text()
    assert '"offline.max_amount" = "60.00 EUR"' in text and '"contactless.cvm_limit" = "20.00 EUR"' in text
    sale = mpos("charge", "1500", "--json")
    assert sale.exit_code == 0, sale
    tx = sale.json()
    assert (tx["status"], tx["currency"], tx["amount_minor"]) == ("approved", "JPY", 1500)
    assert tx["card"]["cvm"] == "online_pin"  # a limit in euro is no limit for yen: the safe side


def test_a_sale_in_another_currency_than_the_limits_is_never_stored_offline(mpos, isolated_home, config_file):
    with socket.socket() as probe:  # a port nobody listens on: the acquirer is unreachable
        probe.bind(("127.0.0.1", 0))
        dead = {"MPOS_GATEWAY_URL": f"http://127.0.0.1:{probe.getsockname()[1]}", "MPOS_GATEWAY_TIMEOUT": "2"}
    euros = mpos("charge", "5.00", "--json", env=dead)
    assert euros.exit_code == 0, euros
    assert euros.json()["status"] == "offline"
    # A dollar CVM limit, so the card needs no PIN; the offline limits stay in euro.
    assert mpos("config", "set", "contactless.cvm_limit", "200 USD").exit_code == 0
    dollars = mpos("charge", "5.00", "--currency", "USD", "--json", env=dead)
    assert dollars.exit_code == 6, dollars
    assert "the offline limits are set in EUR, not USD" in dollars.stderr and "nobody was charged" in dollars.stderr
    listed = mpos("journal", "list", "--json").json()
    assert sorted((tx["currency"], tx["status"]) for tx in listed) == [("EUR", "offline"), ("USD", "failed")]


def test_a_password_written_into_the_gateway_url_by_hand_is_never_printed(mpos, config_file):
    refused = mpos("charge", "5", env={"MPOS_GATEWAY_URL": "ftp://merchant:hunter2-xyz@acquirer.example"})
    assert refused.exit_code == 2 and "MPOS_GATEWAY_URL" in refused.stderr, refused
    assert "hunter2" not in refused.stdout + refused.stderr
    config_file.write_text('[gateway]\nurl = "https://merchant:hunter2-xyz@acquirer.example/api"\n')
    for args in (("charge", "5"), ("config", "show"), ("config", "show", "--json")):
        result = mpos(*args)
        assert result.exit_code == 8, result
        assert "hunter2" not in result.stdout + result.stderr
        assert "gateway.url" in result.stdout + result.stderr
