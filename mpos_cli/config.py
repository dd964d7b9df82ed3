"""Configuration: ``config.toml`` under the home, overridden by the environment.

It works with no file at all (simulated reader, embedded sandbox, EUR). Keys
are dotted (``gateway.timeout``); ``SCHEMA`` below is the one place that
knows every key, its type, its validator and its default, and
``man/mpos.toml.5`` documents it. Secrets are refused here: they come from
``MPOS_GATEWAY_KEY`` or the keyring (SPEC §8).

A setting must never break a later sale (SPEC §9), so every value is checked
three times, by the same validator:

- ``change``/``unset`` (``mpos config set``/``unset``): a bad value or an
  unknown key is a ``UsageError`` (exit 2) and the file keeps its bytes;
- ``inspect`` (``mpos config show``): lists every setting and flags what is
  wrong with each, so that a file spoilt by hand can be repaired;
- ``load`` (every other command, when it first reads the configuration,
  before any reader or acquirer is touched): a bad file is exit 8, a bad
  environment variable exit 2, each as one line naming the key.

Money limits carry their currency. ``mpos config set offline.max_amount 60``
stores ``"60.00 EUR"`` (the amount in the configured currency at that
moment), so a later change of ``currency``, or a sale in another currency,
can never reinterpret it (``"60.00"`` read as yen is refused, and 60 yen is
not 60 euro). A limit applies only to payments in its own currency: for any
other, the conservative answer is taken (a PIN is always asked for, nothing
is stored offline) and no exchange rate is guessed. A plain amount written
by hand, and the defaults, are read in the configured currency; when
``currency`` changes, hand-written plain limits are pinned to the old one
in the same write. Limits are kept as decimal text, not minor units, so
that they keep their meaning should a currency's ISO 4217 exponent be
corrected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mpos_cli.errors import StateUnreadable, UsageError

DEFAULT_CURRENCY = "EUR"
FILE_SOURCE = "config.toml"
DEFAULT_SOURCE = "default"


class BadValue(ValueError):
    """Why a value is refused: one line, saying what would be accepted."""


@dataclass(frozen=True)
class Amount:
    """A configured money limit: integer minor units in one ISO 4217 currency."""

    minor: int
    currency: str

    def __str__(self) -> str:
        from mpos_cli.money import currency, to_decimal_string

        return f"{to_decimal_string(self.minor, currency(self.currency))} {self.currency}"

    def minor_in(self, code: str) -> int | None:
        """The limit in minor units of ``code``; None when it is set in another
        currency (no exchange rate is guessed: the caller takes the safe side)."""
        return self.minor if code.upper() == self.currency else None


# -- validators: (value as written or typed, configured currency) -> value ---------------
#
# A value comes either from ``mpos config set`` (always text) or from TOML
# (text, integer, float, boolean, date, array...). Numbers may be written as
# text; booleans are never numbers; money is never a float.

Check = Callable[[Any, str], Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(kind: type, low: float, high: float, unit: str = "") -> Check:
    what = "a whole number" if kind is int else "a number"
    unit_text = f" {unit}" if unit else ""

    def check(value: Any, _currency: str) -> Any:
        if isinstance(value, str):
            try:
                number = kind(value.strip())
            except ValueError:
                raise BadValue(f"not {what}: {value!r}") from None
        elif _is_number(value) and (kind is float or isinstance(value, int)):
            number = kind(value)
        else:
            raise BadValue(f"must be {what}, not {value!r}")
        if not low <= number <= high:  # also refuses nan and inf
            raise BadValue(f"must be from {low:g} to {high:g}{unit_text}, not {value}")
        return number

    return check


def _choice(*allowed: str) -> Check:
    def check(value: Any, _currency: str) -> str:
        if value not in allowed:
            raise BadValue(f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    return check


def _text(*, max_len: int, allow_empty: bool = True, pattern: str | None = None, what: str = "",
          multiline: bool = False) -> Check:
    def check(value: Any, _currency: str) -> str:
        if not isinstance(value, str):
            raise BadValue(f"must be text (in quotes in the file), not {value!r}")
        if not value:
            if allow_empty:
                return value
            raise BadValue("must not be empty")
        if len(value) > max_len:
            raise BadValue(f"must be at most {max_len} characters")
        lines = value.split("\n") if multiline else [value]
        if not all(line.isprintable() for line in lines):
            raise BadValue("must be printable text (no control characters)")
        if value != value.strip():
            raise BadValue("must not start or end with a space")
        if pattern and not re.fullmatch(pattern, value):
            raise BadValue(f"must be {what}, not {value!r}")
        return value

    return check


def _currency_code(value: Any, _currency: str) -> str:
    from mpos_cli.money import currency

    if not isinstance(value, str):
        raise BadValue(f"must be an ISO 4217 code in quotes, not {value!r}")
    return currency(value).code


_AMOUNT_AND_CODE = re.compile(r"(?P<amount>[0-9][0-9.,]*)\s*(?P<code>[A-Za-z]{3})")


def _amount(value: Any, configured: str) -> Amount:
    """``"60"``, ``"60.00"``, ``"60,00"`` (in the configured currency) or ``"60.00 EUR"``."""
    from mpos_cli.money import currency, parse_amount

    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadValue(f"must be an amount in quotes such as \"50.00\", not {value!r} (floats cannot hold money exactly)")
    text = value.strip()
    match = _AMOUNT_AND_CODE.fullmatch(text)
    code = match["code"] if match else configured
    cur = currency(code)
    minor = parse_amount(match["amount"] if match else text, cur, allow_zero=True)
    return Amount(minor, cur.code)


def _locale(value: Any, _currency: str) -> str:
    from babel import Locale, UnknownLocaleError

    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"must be a locale name such as en_IE, not {value!r}")
    text = value.strip()
    try:
        return str(Locale.parse(text, sep="-" if "-" in text else "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise BadValue(f"unknown locale {value!r}: use one babel knows, such as en_IE, de_AT, fr_FR") from None


def _timezone(value: Any, _currency: str) -> str:
    if not isinstance(value, str):
        raise BadValue(f"must be an IANA time zone in quotes, not {value!r}")
    if not value:
        return value
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadValue(f"unknown time zone {value!r}: use an IANA name such as Europe/Dublin, or empty for the system's") from None
    return value


# Acquirer adapters named by SPEC §7a; others must be installed (entry points).
SPEC_ADAPTERS = ("cybersource", "authorizenet")


def _installed(group: str, name: str) -> bool:
    from importlib.metadata import entry_points

    return any(entry.name == name for entry in entry_points(group=group))


def _gateway_url(value: Any, _currency: str) -> str:
    if not isinstance(value, str):
        raise BadValue(f"must be a URL in quotes, not {value!r}")
    from mpos_cli.gateway.urls import without_credentials

    text = value.strip()
    shown = without_credentials(text)
    if text.lower() in ("", "sandbox"):
        return "sandbox"
    from mpos_cli.gateway.urls import checked_url
    usage = "use sandbox, https://HOST/…, or NAME+https://HOST for an adapter (cybersource, authorizenet)"
    head, sep, rest = text.partition("://")
    if sep and head.lower() in ("http", "https"):
        return checked_url(text)
    name, plus, inner = head.partition("+")
    name = name.lower()
    if sep and plus:  # NAME+https://HOST: the adapter's URL keeps the https rule (SPEC §7a)
        if inner.lower() not in ("http", "https"):
            raise BadValue(f"gateway URL {shown!r}: after {name}+ comes https://HOST")
        if name == "http" or not re.fullmatch(r"[a-z][a-z0-9_.-]*", name):
            raise BadValue(f"gateway URL {shown!r} names no acquirer adapter: {usage}")
        if name not in SPEC_ADAPTERS and not _installed("mpos.gateways", name):
            raise BadValue(f"gateway URL {shown!r} names an adapter that is not installed ({name}): {usage}")
        checked_url(f"{inner}://{rest}")
        return f"{name}+{inner.lower()}://{rest}".rstrip("/")
    name, colon, _argument = text.partition(":")
    if colon and not sep and name.lower() not in ("http", "https") and _installed("mpos.gateways", name.lower()):
        return text  # NAME:… an installed adapter with its own argument
    raise BadValue(f"gateway URL {shown!r} is not allowed: {usage}")


def _reader_spec(value: Any, _currency: str) -> str:
    usage = "use sim, ble:ADDRESS, ble:NAME or serial:/dev/PATH"
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"must be a reader spec: {usage}")
    text = value.strip()
    kind, colon, argument = text.partition(":")
    kind, argument = kind.lower(), argument.strip()
    if kind == "sim":
        if argument:
            raise BadValue(f"the simulated reader takes no argument: {text!r}; use sim")
        return "sim"
    if kind == "ble":
        if not argument or not argument.isprintable():
            raise BadValue(f"ble needs the reader's address or advertised name, e.g. ble:AA:BB:CC:DD:EE:FF, not {text!r}")
        return f"ble:{argument}"
    if kind == "serial":
        if not argument.startswith("/"):
            raise BadValue(f"serial needs the device's absolute path, e.g. serial:/dev/ttyACM0, not {text!r}")
        return f"serial:{argument}"
    if re.fullmatch(r"[a-z][a-z0-9_.-]*", kind) and _installed("mpos.readers", kind):
        return f"{kind}:{argument}" if colon else kind
    raise BadValue(f"unknown reader {text!r}: {usage}")


# Rates a serial port is commonly set to; the NEO 2 guide's default is 115200
# (NEO 2 Interface Developer's Guide, §2.7.1 "Port Settings").
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


def _baud_rate(value: Any, currency: str) -> int:
    number = _number(int, 1, 10_000_000)(value, currency)
    if number not in BAUD_RATES:
        raise BadValue(f"must be one of {', '.join(map(str, BAUD_RATES))}, not {value}")
    return number


def _uuid(value: Any, _currency: str) -> str:
    import uuid

    if isinstance(value, str):
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise BadValue(f"must be a 128-bit UUID such as 0000fff0-0000-1000-8000-00805f9b34fb, not {value!r}")


def _ca_bundle(value: Any, _currency: str) -> str:
    if not isinstance(value, str):
        raise BadValue(f"must be a file name in quotes, not {value!r}")
    if not value:
        return value
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path  # kept absolute: later commands run from anywhere
    import ssl

    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise BadValue(f"{value!r} cannot be read as a PEM bundle of certificate authorities ({exc})") from None
    return str(path)


def _device(value: Any, _currency: str) -> str:
    if not isinstance(value, str):
        raise BadValue(f"must be a device file name in quotes, not {value!r}")
    if value and (not value.startswith("/") or not value.isprintable()):
        raise BadValue(f"must be the absolute path of a device file such as /dev/rfcomm0, not {value!r}")
    return value


def _printer_profile(value: Any, _currency: str) -> str:
    if value == "default":
        # python-escpos always has its "default" profile: every command loads
        # the config, and asking escpos (about 25 ms of imports) is for names
        # someone typed.
        return value
    from mpos_cli.receipts.render.escpos_bytes import check_printer_profile

    return check_printer_profile(value)


def _hub_url(value: Any, _currency: str) -> str:
    """A postgresql:// URL without a password (mpos_cli.hub.url), or empty for no hub."""
    from mpos_cli.hub.url import checked_hub_url

    if not isinstance(value, str):
        raise BadValue(f"must be a postgresql:// URL in quotes, not {value!r}")
    try:
        return checked_hub_url(value, allow_password=False)
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def _optional(check: Callable[[str], str]) -> Check:
    """Empty means unset; anything else must pass ``check`` (a ``ValueError`` says why not)."""

    def checked(value: Any, _currency: str) -> str:
        if not isinstance(value, str):
            raise BadValue(f"must be text in quotes, not {value!r}")
        text = value.strip()
        return check(text) if text else ""

    return checked


def _iban(value: str) -> str:
    from mpos_cli.qr import validate_iban

    return validate_iban(value)


def _bic(value: str) -> str:
    from mpos_cli.qr import validate_bic

    return validate_bic(value)


def _emvco_account(value: str) -> str:
    from mpos_cli.qr import validate_emvco_account

    return validate_emvco_account(value)


def _country(value: str) -> str:
    import pycountry

    code = value.upper()
    if not re.fullmatch(r"[A-Z]{2}", code) or pycountry.countries.get(alpha_2=code) is None:
        raise BadValue(f"must be an ISO 3166-1 alpha-2 country code such as DE or SG, not {value!r}")
    return code


@dataclass(frozen=True)
class Key:
    default: Any
    check: Check
    help: str
    credential: bool = False  # an acquirer credential's identifier: config show tells only whether it is set

    def parse(self, value: Any, *, currency: str = DEFAULT_CURRENCY) -> Any:
        """The value as mpos uses it, or ``BadValue`` saying why not.
        ``currency`` is the configured one: plain amounts are read in it."""
        try:
            return self.check(value, currency)
        except BadValue:
            raise
        except UsageError as exc:
            raise BadValue(exc.one_line()) from None
        except (ValueError, TypeError) as exc:
            raise BadValue(str(exc)) from None

    @property
    def is_amount(self) -> bool:
        return self.check is _amount


_MAX_TIMEOUT = 600.0
# Identifiers go to the acquirer (the gateway API takes at most 32 characters)
# and into batch references and file names: no spaces, nothing exotic.
_ID = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_CREDENTIAL_ID = _ID

SCHEMA: dict[str, Key] = {
    "currency": Key("EUR", _currency_code, "default ISO 4217 currency"),
    "locale": Key("en_IE", _locale, "locale for amounts on receipts and screens"),
    "reader": Key("sim", _reader_spec, "reader spec: sim, ble:ADDRESS, ble:NAME or serial:PATH"),
    "reader.timeout": Key(60.0, _number(float, 1, _MAX_TIMEOUT, "seconds"), "seconds to wait for a card"),
    "reader.scan_timeout": Key(10.0, _number(float, 1, 120, "seconds"),
                               "seconds to look for a Bluetooth reader before giving up"),
    "reader.low_battery": Key(20, _number(int, 0, 100, "percent"),
                              "warn before a sale when the reader's battery is at or below this percentage"),
    "serial.baud_rate": Key(115200, _baud_rate, "serial: readers' baud rate (NEO 2 guide default 115200)"),
    "ble.adapter": Key("", _text(max_len=16, pattern=r"hci[0-9]{1,3}", what="a BlueZ adapter name such as hci0"),
                       "local Bluetooth adapter (e.g. hci1); empty for the default"),
    "ble.service_uuid": Key("0000fff0-0000-1000-8000-00805f9b34fb", _uuid, "reader GATT service"),
    "ble.write_uuid": Key("0000fff2-0000-1000-8000-00805f9b34fb", _uuid, "host-to-reader characteristic"),
    "ble.notify_uuid": Key("0000fff1-0000-1000-8000-00805f9b34fb", _uuid, "reader-to-host characteristic"),
    "gateway.url": Key("sandbox", _gateway_url, "acquirer base URL; 'sandbox' for the embedded sandbox"),
    "gateway.timeout": Key(15.0, _number(float, 0.1, 300, "seconds"), "seconds to wait for the acquirer's answer"),
    "gateway.ca_bundle": Key("", _ca_bundle, "custom CA bundle file for the acquirer's TLS"),
    # SPEC §7a: the adapters' identifiers (the secret itself never lives here).
    "gateway.merchant_id": Key("", _text(max_len=64, pattern=_CREDENTIAL_ID, what="letters, digits, '.', '_' or '-'"),
                               "acquirer account: Cybersource merchant ID, Authorize.Net API login ID", credential=True),
    "gateway.key_id": Key("", _text(max_len=64, pattern=_CREDENTIAL_ID, what="letters, digits, '.', '_' or '-'"),
                          "Cybersource shared secret key's id (its serial number, a UUID)", credential=True),
    "merchant.name": Key("mpos sandbox merchant", _text(max_len=64, allow_empty=False), "printed on receipts"),
    "merchant.address": Key("", _text(max_len=256, multiline=True), "printed on receipts"),
    "merchant.id": Key("SANDBOX000000001", _text(max_len=32, allow_empty=False, pattern=_ID,
                                                 what="letters, digits, '.', '_' or '-'"),
                       "acquirer merchant id (MID)"),
    "terminal.id": Key("MPOS0001", _text(max_len=32, allow_empty=False, pattern=_ID,
                                         what="letters, digits, '.', '_' or '-'"),
                       "terminal id (TID)"),
    "hub.url": Key("", _hub_url, "the business's hub, postgresql://USER@HOST/DB (MPOS_HUB_URL); empty: none"),
    "contactless.cvm_limit": Key("50", _amount, "contactless amounts above this need a PIN"),
    "offline.mode": Key("allow", _choice("allow", "never"), "store payments when the acquirer is unreachable"),
    "offline.max_amount": Key("100", _amount, "largest single payment stored offline"),
    "offline.max_total": Key("500", _amount, "largest total of stored payments"),
    "offline.max_count": Key(50, _number(int, 0, 100_000), "most payments stored at once"),
    "offline.max_age_hours": Key(72, _number(int, 0, 720, "hours"), "stored payments older than this are not accepted"),
    "journal.lock_timeout": Key(10.0, _number(float, 0.1, _MAX_TIMEOUT, "seconds"),
                                "seconds to wait for another mpos process"),
    "printer.device": Key("", _device, "receipt printer: a device file (e.g. /dev/rfcomm0)"),
    "printer.profile": Key("default", _printer_profile, "python-escpos printer profile: width, code page (PC858/WPC1252)"),
    "timezone": Key("", _timezone, "IANA zone for business dates; empty for the system's"),
    "qr.format": Key("epc", _choice("epc", "emvco"), "QR payment code: epc (SEPA, EPC069-12) or emvco"),
    "qr.name": Key("", _text(max_len=70), "beneficiary (EPC) or merchant (EMVCo) name in QR codes; empty: merchant.name"),
    "qr.iban": Key("", _optional(_iban), "IBAN that QR payments are made to (EPC; checked with schwifty)"),
    "qr.bic": Key("", _optional(_bic), "BIC of that account, optional (EPC)"),
    "qr.expiry_days": Key(7, _number(int, 1, 365, "days"), "days a QR payment waits for the transfer before it expires"),
    "qr.emvco_account": Key("", _optional(_emvco_account),
                            "EMVCo merchant account information (IDs 02-51, as in the payload)"),
    "qr.mcc": Key("5999", _text(max_len=4, allow_empty=False, pattern=r"[0-9]{4}", what="four digits (ISO 18245)"),
                  "EMVCo merchant category code (ISO 18245)"),
    "qr.country": Key("", _optional(_country), "EMVCo country code (ISO 3166-1 alpha-2)"),
    "qr.city": Key("", _text(max_len=15, pattern=r"[\x20-\x7e]+", what="printable ASCII"), "EMVCo merchant city"),
}

AMOUNT_KEYS = tuple(key for key, spec in SCHEMA.items() if spec.is_amount)

# What a limit set in another currency means for payments in this one.
_FOREIGN_LIMIT = {
    "contactless.cvm_limit": "contactless payments in {code} ask for a PIN whatever the amount",
    "offline.max_amount": "payments in {code} are not stored offline",
    "offline.max_total": "payments in {code} are not stored offline",
}

# Environment overrides (SPEC §2).
ENV_KEYS = {
    "MPOS_READER": "reader",
    "MPOS_GATEWAY_URL": "gateway.url",
    "MPOS_GATEWAY_TIMEOUT": "gateway.timeout",
    "MPOS_GATEWAY_MERCHANT_ID": "gateway.merchant_id",
    "MPOS_GATEWAY_KEY_ID": "gateway.key_id",
    "MPOS_BLE_ADAPTER": "ble.adapter",
}

SECRET_WORDS = ("key", "secret", "password", "token")


def public(value: Any) -> Any:
    """A value as JSON and people see it (limits as ``"50.00 EUR"``)."""
    return str(value) if isinstance(value, Amount) else value


HIDDEN_CREDENTIAL = "(set, not shown)"


def shown_value(key: str, value: Any) -> Any:
    """``public(value)``, except that an acquirer credential's identifier is
    only said to be set (or empty): never printed."""
    spec = SCHEMA.get(key)
    if spec is not None and spec.credential:
        return HIDDEN_CREDENTIAL if value else ""
    return public(value)


# What each acquirer adapter needs (SPEC §7a), besides the secret.
ADAPTER_CREDENTIALS = {
    "cybersource": ("gateway.merchant_id", "gateway.key_id"),
    "authorizenet": ("gateway.merchant_id",),
}


def acquirer_summary(report: "Inspection", *, secret_present: bool) -> dict[str, Any]:
    """Which acquirer the settings pick and whether each credential it needs
    is present; never a credential's value."""
    values = {s.key: s.value for s in report.settings}
    url = str(values.get("gateway.url") or "sandbox")
    head = url.split("://", 1)[0].lower()
    if url == "sandbox":
        return {"name": "sandbox", "credentials": {}}
    name = head.split("+", 1)[0] if "+" in head else ("http" if head in ("http", "https") else head.split(":", 1)[0])
    credentials = {key: bool(values.get(key)) for key in ADAPTER_CREDENTIALS.get(name, ())}
    credentials["secret"] = secret_present
    return {"name": name if name != "http" else "mpos gateway API", "credentials": credentials}


class Config:
    def __init__(self, values: dict[str, Any], path: Path, file_values: dict[str, Any]) -> None:
        self._values = values
        self.path = path
        self.file_values = file_values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def items(self):
        return self._values.items()


# -- reading the file ------------------------------------------------------------------------


def _flatten(data: dict[str, Any], prefix: str, flat: dict[str, Any], twice: list[str]) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{name}.", flat, twice)
        else:
            if name in flat:  # both [gateway] url and "gateway.url": which one was meant?
                twice.append(name)
            flat[name] = value


def _read(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.exists():
        return {}, []
    import tomllib  # here: its parser's start-up is a cost only a config file needs

    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StateUnreadable(
            f"config {path} is unreadable ({exc})",
            hint="fix or remove it; mpos leaves it untouched",
        ) from exc
    flat: dict[str, Any] = {}
    twice: list[str] = []
    _flatten(document, "", flat, twice)
    return flat, twice


def read_file(path: Path) -> dict[str, Any]:
    """The file's keys, flattened; a file that is not TOML is exit 8 and stays as it is."""
    return _read(path)[0]


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_WORDS)


# -- checking every setting ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    key: str
    source: str  # "config.toml" or the environment variable
    message: str
    hint: str

    def error(self) -> UsageError | StateUnreadable:
        """A file that is wrong is state (exit 8); an environment variable, this run's input (exit 2)."""
        kind = StateUnreadable if self.source == FILE_SOURCE else UsageError
        return kind(self.message, hint=self.hint)


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any  # what mpos uses: the parsed value, or the default when the one written is bad
    source: str  # "default", "config.toml" or the environment variable that overrides it
    written: Any  # as written in the file or the environment (the default when neither)
    help: str
    problem: str | None = None


@dataclass
class Inspection:
    path: Path
    file_values: dict[str, Any]
    settings: list[Setting] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def first_error(self, others: str = "mpos config show lists them") -> UsageError | StateUnreadable | None:
        """The error a command stops with: the file's first problem, else the environment's."""
        if not self.problems:
            return None
        ordered = sorted(self.problems, key=lambda p: p.source != FILE_SOURCE)
        first = ordered[0]
        error = first.error()
        if len(self.problems) > 1:
            error.hint = f"{error.hint}; {len(self.problems) - 1} more: {others}"
        return error


def without_credentials(text: Any) -> Any:
    """A value as it may be printed: a URL's ``user:password@`` masked (SPEC §8)."""
    if isinstance(text, str) and "@" in text:
        from mpos_cli.gateway.urls import without_credentials as masked

        return masked(text)
    return text


def _file_problem(path: Path, key: str, written: Any, reason: str) -> Problem:
    return Problem(
        key, FILE_SOURCE, f"bad setting in {path}: {key} = {without_credentials(written)!r}: {reason}",
        f"fix it with mpos config set {key} VALUE, or go back to the default with mpos config unset {key}",
    )


def configured_currency(file_values: dict[str, Any]) -> str | None:
    """The currency of the file (or the default); None when the file's is bad."""
    try:
        return SCHEMA["currency"].parse(file_values.get("currency", SCHEMA["currency"].default))
    except BadValue:
        return None


def inspect(path: Path, environ: dict[str, str]) -> Inspection:
    """Every setting with its value and source, and everything wrong with them."""
    file_values, twice = _read(path)
    report = Inspection(path, file_values)
    code = configured_currency(file_values) or DEFAULT_CURRENCY
    env_for = {key: name for name, key in ENV_KEYS.items() if environ.get(name)}
    for key, spec in SCHEMA.items():
        # Defaults are written as mpos uses them (a test holds every key to
        # that), but for amounts, which are read in the configured currency.
        default = spec.parse(spec.default, currency=code) if spec.is_amount else spec.default
        value, source, written, problem = default, DEFAULT_SOURCE, spec.default, None
        if key in file_values:
            written, source = file_values[key], FILE_SOURCE
            try:
                value = spec.parse(written, currency=code)
            except BadValue as exc:
                problem = str(exc)
                report.problems.append(_file_problem(path, key, written, problem))
        if key in twice:
            problem = "written twice in the file"
            report.problems.append(Problem(
                key, FILE_SOURCE, f"{key} is written twice in {path} (as a table key and a dotted key)",
                f"keep one of them (mpos config set {key} VALUE keeps just the new one)",
            ))
        if key in env_for:
            name = env_for[key]
            try:
                value, source, written = spec.parse(environ[name], currency=code), name, environ[name]
            except BadValue as exc:
                problem, source, written = str(exc), name, environ[name]
                report.problems.append(Problem(key, name, f"bad {name}={without_credentials(written)!r}: {exc}",
                                               f"fix or unset {name}"))
        report.settings.append(Setting(key, value, source, without_credentials(written), spec.help, problem))
    for key, written in file_values.items():
        if key in SCHEMA:
            continue
        if _looks_secret(key):
            reason = "a secret, and secrets are never kept in config.toml"
            hint = (f"remove it with mpos config unset {key}, and give the secret in MPOS_GATEWAY_KEY "
                    "or the OS keyring")
        else:
            reason = "an unknown key (misspelt? see man 5 mpos.toml)"
            hint = f"correct its name in the file, or remove it with mpos config unset {key}"
        report.problems.append(Problem(key, FILE_SOURCE, f"bad setting in {path}: {key} is {reason}", hint))
        shown = "(hidden)" if _looks_secret(key) else written
        report.settings.append(Setting(key, shown, FILE_SOURCE, shown, "", reason))
    return report


def load(path: Path, environ: dict[str, str]) -> Config:
    """The settings in force; any bad one stops here, before a reader or acquirer is touched."""
    report = inspect(path, environ)
    error = report.first_error()
    if error is not None:
        raise error
    return Config({s.key: s.value for s in report.settings}, path, report.file_values)


# -- changing the file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    key: str
    value: Any  # as mpos uses it (the default after unset)
    written: bool  # False when the file was left as it was
    notes: tuple[str, ...] = ()


def _known_key(key: str, file_values: dict[str, Any] | None = None) -> None:
    if key in SCHEMA or (file_values is not None and key in file_values):
        return
    if _looks_secret(key):
        raise UsageError(
            f"{key} is a secret and is never written to config.toml",
            hint="set MPOS_GATEWAY_KEY or store it in the OS keyring",
        )
    raise UsageError(f"unknown config key {key!r}", hint="see mpos config show or man 5 mpos.toml")


def _stored(value: Any) -> Any:
    return str(value) if isinstance(value, Amount) else value


def _write(path: Path, flat: dict[str, Any]) -> None:
    import tomli_w

    from mpos_cli.storage_util import atomic_write

    # Written as flat, quoted dotted keys ("reader.timeout" = 30.0): ``reader``
    # is a value and ``reader.timeout`` another, which TOML tables cannot nest.
    atomic_write(path, tomli_w.dumps(dict(sorted(flat.items()))).encode())


def _foreign_limit_note(key: str, limit: Amount, code: str) -> str | None:
    if limit.minor_in(code) is not None:
        return None
    effect = _FOREIGN_LIMIT[key].format(code=code)
    return f"{key} is {limit}: {effect} until you set it in {code} (mpos config set {key} AMOUNT)"


def _follow_currency(flat: dict[str, Any], old: str, new: str) -> list[str]:
    """Before ``currency`` changes from ``old`` to ``new``: pin the plain
    limits written by hand to ``old`` (what they meant), and say what each
    limit now is for payments in ``new``."""
    notes = []
    for key in AMOUNT_KEYS:
        spec = SCHEMA[key]
        if key not in flat:
            notes.append(f"{key} is its default, now {spec.parse(spec.default, currency=new)}")
            continue
        try:
            limit = spec.parse(flat[key], currency=old)
        except BadValue:
            continue  # already flagged by mpos config show; left as written
        flat[key] = _stored(limit)
        note = _foreign_limit_note(key, limit, new)
        if note:
            notes.append(note)
    return notes


def change(path: Path, key: str, raw: str) -> Change:
    """Check one value and write it atomically (temp file, fsync, rename).
    Works on a file with other bad settings (that is how they are repaired)
    and leaves them as they are; refuses a bad value with the file's bytes
    unchanged."""
    _known_key(key)
    spec = SCHEMA[key]
    flat = read_file(path)
    code = configured_currency(flat)
    try:
        value = spec.parse(raw, currency=code or DEFAULT_CURRENCY)
    except BadValue as exc:
        raise UsageError(f"bad value for {key}: {exc}") from None
    notes: list[str] = []
    if spec.is_amount:
        if code is None and not _AMOUNT_AND_CODE.fullmatch(str(raw).strip()):
            raise StateUnreadable(
                f"currency in {path} is bad, so {raw!r} has no currency",
                hint=f"fix it first with mpos config set currency CODE, or give one: mpos config set {key} '{raw} EUR'",
            )
        note = _foreign_limit_note(key, value, code or DEFAULT_CURRENCY)
        if note:
            notes.append(note)
    if key == "currency" and code is not None and value != code:
        notes = _follow_currency(flat, code, value)
    flat[key] = _stored(value)
    _write(path, flat)
    return Change(key, value, True, tuple(notes))


def set_value(path: Path, key: str, raw: str) -> Any:
    """``change`` for callers that only want the value."""
    return change(path, key, raw).value


def unset(path: Path, key: str) -> Change:
    """Remove ``key`` from the file, back to its default. A key the schema
    does not know may be removed only if the file has it (a misspelt one)."""
    flat = read_file(path)
    _known_key(key, flat)
    spec = SCHEMA.get(key)
    if key not in flat:
        default = spec.parse(spec.default, currency=configured_currency(flat) or DEFAULT_CURRENCY)
        return Change(key, default, False, (f"{key} was not set; it is its default",))
    notes: list[str] = []
    old = configured_currency(flat)
    del flat[key]
    if key == "currency" and old is not None and old != DEFAULT_CURRENCY:
        notes = _follow_currency(flat, old, DEFAULT_CURRENCY)
    _write(path, flat)
    value = spec.parse(spec.default, currency=configured_currency(flat) or DEFAULT_CURRENCY) if spec else None
    return Change(key, value, True, tuple(notes))


def environ() -> dict[str, str]:
    return dict(os.environ)
