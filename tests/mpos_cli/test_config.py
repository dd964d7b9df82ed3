"""The configuration core: every key's check, and the three places it runs
(``change``/``unset``, ``inspect``, ``load``), without the CLI."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mpos_cli import config
from mpos_cli.config import SCHEMA, Amount, BadValue
from mpos_cli.errors import StateUnreadable, UsageError, exit_status_of
from tests.helpers.bad_settings import ISSUE_13_REPROS


def parse(key: str, value, currency: str = "EUR"):
    return SCHEMA[key].parse(value, currency=currency)


def refused(key: str, value, currency: str = "EUR") -> str:
    with pytest.raises(BadValue) as caught:
        parse(key, value, currency)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "config.toml"


# -- each key's check ----------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", "GBP"])
def test_every_default_passes_its_own_check_in_any_currency(currency):
    # The amount defaults have no decimals, so that they read in JPY as in KWD.
    for key, spec in SCHEMA.items():
        parsed = spec.parse(spec.default, currency=currency)
        if not spec.is_amount:
            # config.inspect uses these defaults as written, without parsing them
            assert (parsed, type(parsed)) == (spec.default, type(spec.default)), key


@pytest.mark.parametrize("key, value", ISSUE_13_REPROS)
def test_the_issue_13_values_are_refused(key, value):
    refused(key, value)


@pytest.mark.parametrize(
    "value, currency, expected",
    [("60", "EUR", Amount(6000, "EUR")), ("60.00", "EUR", Amount(6000, "EUR")), ("60,5", "EUR", Amount(6050, "EUR")),
     ("60.00 EUR", "JPY", Amount(6000, "EUR")), ("60.00eur", "JPY", Amount(6000, "EUR")),
     ("1500", "JPY", Amount(1500, "JPY")), ("1500 JPY", "EUR", Amount(1500, "JPY")), ("1.250", "KWD", Amount(1250, "KWD")),
     ("0", "EUR", Amount(0, "EUR")), (60, "EUR", Amount(6000, "EUR"))],
)
def test_amounts_are_read_in_the_configured_currency_unless_they_carry_one(value, currency, expected):
    assert parse("offline.max_amount", value, currency) == expected


@pytest.mark.parametrize(
    "value, currency",
    [("abc", "EUR"), ("", "EUR"), ("-5", "EUR"), ("12.345", "EUR"), ("60.00", "JPY"), ("60.00 JPY", "EUR"),
     ("60 XAU", "EUR"), ("60 ZZZ", "EUR"), ("1,000.00", "EUR"), (60.5, "EUR"), (True, "EUR"), (["60"], "EUR")],
)
def test_bad_amounts_are_refused(value, currency):
    refused("contactless.cvm_limit", value, currency)


def test_a_float_amount_is_refused_with_a_reason():
    assert "float" in refused("offline.max_total", 500.0)


def test_an_amount_is_shown_with_its_currency_and_applies_only_in_it():
    limit = Amount(6000, "EUR")
    assert str(limit) == "60.00 EUR" and str(Amount(1500, "JPY")) == "1500 JPY"
    assert (limit.minor_in("EUR"), limit.minor_in("eur"), limit.minor_in("USD")) == (6000, 6000, None)


@pytest.mark.parametrize("value, expected", [("en_IE", "en_IE"), ("de-AT", "de_AT"), ("EN_ie", "en_IE"), ("fr", "fr")])
def test_locales_babel_knows(value, expected):
    assert parse("locale", value) == expected


@pytest.mark.parametrize("value", ["xx_YY", "de_XX", "", "en_IE.UTF-8", 5])
def test_locales_babel_does_not_know(value):
    refused("locale", value)


@pytest.mark.parametrize("value", ["Europe/Dublin", "America/Argentina/Buenos_Aires", "UTC", ""])
def test_iana_time_zones(value):
    assert parse("timezone", value) == value


@pytest.mark.parametrize("value", ["Mars/Base", "Europe/Dublinn", "../../etc/passwd", "/etc/localtime", 1])
def test_not_time_zones(value):
    refused("timezone", value)


@pytest.mark.parametrize(
    "value, expected",
    [("sandbox", "sandbox"), ("", "sandbox"), ("SANDBOX", "sandbox"),
     ("https://acquirer.example/api/", "https://acquirer.example/api"),
     ("http://127.0.0.1:8765", "http://127.0.0.1:8765"), ("http://[::1]:8765/", "http://[::1]:8765"),
     ("http://localhost:1", "http://localhost:1"),
     ("cybersource+https://apitest.cybersource.com", "cybersource+https://apitest.cybersource.com"),
     ("authorizenet+https://apitest.authorize.net/", "authorizenet+https://apitest.authorize.net"),
     ("Cybersource+HTTPS://apitest.cybersource.com", "cybersource+https://apitest.cybersource.com"),
     ("cybersource+http://127.0.0.1:9000", "cybersource+http://127.0.0.1:9000")],
)
def test_gateway_urls_under_the_https_rule(value, expected):
    assert parse("gateway.url", value) == expected


@pytest.mark.parametrize(
    "value",
    ["http://example.com", "http://10.0.0.1:8765", "http://128.0.0.1", "ftp://127.0.0.1", "127.0.0.1:8765",
     "https://user:hunter2@acquirer.example", "https://", "https://acquirer.example:99999",
     "cybersource+http://apitest.cybersource.com", "cybersource+ftp://x.example", "acme+https://api.acme.example",
     "http+https://x.example", "nobody://x", "sandbox2", 42, "ftp://user:hunter2@x.example",
     "cybersource+ftp://user:hunter2@x.example", "acme+https://user:hunter2@x.example",
     "cybersource+https://user:hunter2@x.example", "http://user:hunter2@example.com"],
)
def test_gateway_urls_refused(value):
    message = refused("gateway.url", value)
    assert "hunter2" not in message


def test_an_installed_adapter_is_accepted(monkeypatch):
    import importlib.metadata

    acme = EntryPoint(name="acme", value="tests.helpers.gateway:RecordingAdapter", group="mpos.gateways")
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [acme] if group == "mpos.gateways" else [])
    assert parse("gateway.url", "acme+https://api.acme.example/") == "acme+https://api.acme.example"
    assert parse("gateway.url", "acme:production") == "acme:production"
    refused("gateway.url", "acme+http://api.acme.example")  # the https rule holds after NAME+ too


@pytest.mark.parametrize(
    "value, expected",
    [("sim", "sim"), (" SIM ", "sim"), ("ble:AA:BB:CC:DD:EE:FF", "ble:AA:BB:CC:DD:EE:FF"),
     ("ble:IDTECH-VP3300 12", "ble:IDTECH-VP3300 12"), ("serial:/dev/ttyACM0", "serial:/dev/ttyACM0")],
)
def test_reader_specs(value, expected):
    assert parse("reader", value) == expected


@pytest.mark.parametrize("value", ["", "ble", "ble:", "serial:", "serial:ttyACM0", "sim:extra", "carrier-pigeon",
                                   "usb:/dev/x", 1])
def test_reader_specs_refused(value):
    refused("reader", value)


@pytest.mark.parametrize(
    "key, value, expected",
    [("reader.timeout", "30", 30.0), ("reader.timeout", 45, 45.0), ("reader.timeout", 600.0, 600.0),
     ("gateway.timeout", "0.4", 0.4), ("journal.lock_timeout", "0.3", 0.3),
     ("offline.max_count", "2", 2), ("offline.max_count", 0, 0), ("offline.max_age_hours", "720", 720),
     ("offline.mode", "never", "never")],
)
def test_numbers_and_choices(key, value, expected):
    assert parse(key, value) == expected


@pytest.mark.parametrize(
    "key, value",
    [("reader.timeout", "0"), ("reader.timeout", "nan"), ("reader.timeout", "inf"), ("reader.timeout", "1e9"),
     ("reader.timeout", True), ("reader.timeout", "thirty"), ("gateway.timeout", "-1"), ("gateway.timeout", "0"),
     ("journal.lock_timeout", "0"), ("offline.max_count", "2.5"), ("offline.max_count", "-1"),
     ("offline.max_count", 3.0), ("offline.max_count", "1000001"), ("offline.max_age_hours", "721"),
     ("offline.mode", "sometimes"), ("offline.mode", True)],
)
def test_numbers_and_choices_refused(key, value):
    refused(key, value)


@pytest.mark.parametrize(
    "key, value",
    [("terminal.id", "MPOS 0001"), ("terminal.id", "T" * 33), ("terminal.id", ""), ("terminal.id", 1234),
     ("merchant.id", "-X"), ("merchant.id", "M\u00e9RCHANT"), ("merchant.name", ""), ("merchant.name", "N" * 65),
     ("merchant.name", "Ana\x1b[31m"), ("merchant.name", " Ana"), ("merchant.address", "A\x00B"),
     ("ble.adapter", "bluetooth0"), ("ble.service_uuid", "fff0"), ("ble.write_uuid", "not-a-uuid"),
     ("printer.device", "rfcomm0"), ("gateway.ca_bundle", "/nonexistent/ca.pem")],
)
def test_text_keys_refused(key, value):
    refused(key, value)


def test_text_keys_accepted_and_written_canonically(tmp_path, monkeypatch):
    import certifi

    assert parse("merchant.address", "Market Square\nDublin") == "Market Square\nDublin"
    assert parse("terminal.id", "CART-01") == "CART-01"
    assert parse("ble.adapter", "hci1") == "hci1"
    assert parse("ble.service_uuid", "0000FFF0-0000-1000-8000-00805F9B34FB") == "0000fff0-0000-1000-8000-00805f9b34fb"
    assert parse("printer.device", "/dev/rfcomm0") == "/dev/rfcomm0"
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.chdir(tmp_path)
    assert parse("gateway.ca_bundle", "ca.pem") == str(bundle)  # kept absolute: later commands run anywhere
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    refused("gateway.ca_bundle", str(tmp_path / "junk.pem"))


# -- config set and unset ------------------------------------------------------------------


@pytest.mark.parametrize("key, value", ISSUE_13_REPROS)
def test_change_refuses_a_bad_value_and_writes_nothing(path, key, value):
    with pytest.raises(UsageError) as caught:
        config.change(path, key, value)
    assert exit_status_of(caught.value) == 2 and key in caught.value.one_line()
    assert not path.exists()
    path.write_bytes(b'# mine\ncurrency = "EUR"\n')
    with pytest.raises(UsageError):
        config.change(path, key, value)
    assert path.read_bytes() == b'# mine\ncurrency = "EUR"\n'


@pytest.mark.parametrize("key", ["gateway.key", "gateway.secret", "hub.password", "GATEWAY.TOKEN", "api_key"])
def test_secrets_can_never_be_set(path, key):
    with pytest.raises(UsageError) as caught:
        config.change(path, key, "s3cret")
    assert "secret" in caught.value.one_line() and "s3cret" not in caught.value.one_line()
    assert not path.exists()


def test_unknown_keys_are_refused(path):
    with pytest.raises(UsageError):
        config.change(path, "offline.max_amout", "20")
    with pytest.raises(UsageError):
        config.unset(path, "offline.max_amout")
    assert not path.exists()


def test_change_writes_canonical_values_and_limits_with_their_currency(path):
    assert config.change(path, "offline.max_amount", "60").value == Amount(6000, "EUR")
    config.change(path, "currency", "gbp")
    config.change(path, "contactless.cvm_limit", "30,5")
    config.change(path, "locale", "en-GB")
    flat = config.read_file(path)
    assert flat == {"offline.max_amount": "60.00 EUR", "currency": "GBP", "contactless.cvm_limit": "30.50 GBP",
                    "locale": "en_GB"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_changing_the_currency_pins_plain_limits_written_by_hand(path):
    path.write_text('currency = "EUR"\n[offline]\nmax_amount = "60.00"\nmax_total = "200 EUR"\n')
    done = config.change(path, "currency", "JPY")
    flat = config.read_file(path)
    assert (flat["currency"], flat["offline.max_amount"], flat["offline.max_total"]) == ("JPY", "60.00 EUR", "200.00 EUR")
    notes = " ".join(done.notes)
    assert "offline.max_amount is 60.00 EUR" in notes and "not stored offline" in notes
    assert "contactless.cvm_limit is its default, now 50 JPY" in notes
    loaded = config.load(path, {})
    assert loaded["offline.max_amount"] == Amount(6000, "EUR")  # 60 euro, not 60 yen, and not refused
    assert loaded["contactless.cvm_limit"] == Amount(50, "JPY")


def test_unsetting_the_currency_pins_plain_limits_too(path):
    path.write_text('currency = "JPY"\n"offline.max_amount" = "5000"\n')
    config.unset(path, "currency")
    assert config.read_file(path) == {"offline.max_amount": "5000 JPY"}
    assert config.load(path, {})["offline.max_amount"] == Amount(5000, "JPY")


def test_a_limit_in_another_currency_is_accepted_with_a_note(path):
    done = config.change(path, "contactless.cvm_limit", "80 USD")
    assert done.value == Amount(8000, "USD")
    assert any("ask for a PIN" in note and "EUR" in note for note in done.notes)


def test_unset_goes_back_to_the_default(path):
    config.change(path, "offline.max_amount", "60")
    config.change(path, "reader.timeout", "30")
    done = config.unset(path, "offline.max_amount")
    assert done.written and done.value == Amount(10000, "EUR")
    assert config.read_file(path) == {"reader.timeout": 30.0}
    before = path.read_bytes()
    again = config.unset(path, "offline.max_amount")
    assert not again.written and path.read_bytes() == before


def test_unset_removes_a_misspelt_or_secret_key_the_file_has(path):
    path.write_text('[offline]\nmax_amout = "20"\n[gateway]\nkey = "s3cret"\n')
    config.unset(path, "offline.max_amout")
    config.unset(path, "gateway.key")
    assert config.read_file(path) == {}


def test_change_repairs_one_key_and_leaves_the_others_as_written(path):
    path.write_text('locale = "xx_YY"\ntimezone = "Mars/Base"\n')
    config.change(path, "locale", "en_IE")
    assert config.read_file(path) == {"locale": "en_IE", "timezone": "Mars/Base"}
    with pytest.raises(StateUnreadable):
        config.load(path, {})


def test_a_plain_amount_is_refused_while_the_currency_is_bad(path):
    path.write_text('currency = "ZZZ"\n')
    with pytest.raises(StateUnreadable) as caught:
        config.change(path, "offline.max_amount", "60")
    assert "currency" in caught.value.one_line()
    assert config.change(path, "offline.max_amount", "60 EUR").value == Amount(6000, "EUR")


def test_a_file_that_is_not_toml_is_never_rewritten(path):
    path.write_bytes(b"currency = [unterminated\n")
    for call in (lambda: config.change(path, "currency", "EUR"), lambda: config.unset(path, "currency"),
                 lambda: config.inspect(path, {}), lambda: config.load(path, {})):
        with pytest.raises(StateUnreadable):
            call()
    assert path.read_bytes() == b"currency = [unterminated\n"


# -- inspect (config show) and load (every other command) ----------------------------------


def test_inspect_flags_each_bad_hand_written_value_and_shows_the_rest(path):
    path.write_text(
        'currency = "JPY"\nlocale = "xx_YY"\nterminal.id = "CART-01"\n'
        '[offline]\nmax_amount = "100.50"\nmax_amout = "20"\n[gateway]\nkey = "s3cret"\ntimeout = true\n'
    )
    report = config.inspect(path, {})
    by_key = {s.key: s for s in report.settings}
    assert set(SCHEMA) <= set(by_key)
    bad = {s.key for s in report.settings if s.problem}
    assert bad == {"locale", "offline.max_amount", "gateway.timeout", "offline.max_amout", "gateway.key"}
    assert by_key["locale"].written == "xx_YY" and by_key["locale"].value == "en_IE"  # the default stays in use
    assert by_key["terminal.id"].value == "CART-01" and by_key["terminal.id"].source == "config.toml"
    assert by_key["gateway.key"].value == "(hidden)"
    assert all(p.source == "config.toml" and "\n" not in p.message for p in report.problems)


def test_load_refuses_a_bad_file_with_one_line_naming_the_key_and_the_fix(path):
    path.write_text('[offline]\nmax_amount = "abc"\n')
    with pytest.raises(StateUnreadable) as caught:
        config.load(path, {})
    line = caught.value.one_line()
    assert exit_status_of(caught.value) == 8
    assert "offline.max_amount" in line and "mpos config set offline.max_amount" in line
    assert "mpos config unset offline.max_amount" in line and "\n" not in line


def test_load_counts_the_other_problems(path):
    path.write_text('locale = "xx_YY"\ntimezone = "Mars/Base"\nbogus = 1\n')
    with pytest.raises(StateUnreadable) as caught:
        config.load(path, {})
    assert "2 more: mpos config show" in caught.value.one_line()


def test_a_key_written_twice_is_refused(path):
    path.write_text('"gateway.url" = "sandbox"\n[gateway]\nurl = "https://acquirer.example"\n')
    with pytest.raises(StateUnreadable) as caught:
        config.load(path, {})
    assert "twice" in caught.value.one_line()


@pytest.mark.parametrize(
    "name, value",
    [("MPOS_GATEWAY_URL", "http://example.com"), ("MPOS_READER", "carrier-pigeon"),
     ("MPOS_GATEWAY_TIMEOUT", "soon"), ("MPOS_BLE_ADAPTER", "bluetooth0")],
)
def test_a_bad_environment_override_is_a_usage_error(path, name, value):
    with pytest.raises(UsageError) as caught:
        config.load(path, {name: value})
    assert exit_status_of(caught.value) == 2 and name in caught.value.one_line()


def test_environment_overrides_are_checked_and_normalised(path):
    loaded = config.load(path, {"MPOS_READER": "SIM", "MPOS_GATEWAY_TIMEOUT": "2", "MPOS_GATEWAY_URL": ""})
    assert (loaded["reader"], loaded["gateway.timeout"], loaded["gateway.url"]) == ("sim", 2.0, "sandbox")

