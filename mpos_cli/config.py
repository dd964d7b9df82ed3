"""Configuration: ``config.toml`` under the home, overridden by the environment.

It works with no file at all (simulated reader, embedded sandbox, EUR). Keys
are dotted (``gateway.timeout``); the schema below is the one place that
knows every key, its type and default, and ``man/mpos.toml.5`` documents it.
Secrets are refused here: they come from ``MPOS_GATEWAY_KEY`` or the keyring.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mpos_cli.errors import StateUnreadable, UsageError


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return check


def _positive_int(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be zero or more")
    return number


def _positive_float(value: Any) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be more than zero")
    return number


def _currency(value: str) -> str:
    from mpos_cli.money import currency

    return currency(value).code


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value


def _printer_profile(value: Any) -> str:
    from mpos_cli.receipts.render.escpos_bytes import check_printer_profile

    return check_printer_profile(value)


@dataclass(frozen=True)
class Key:
    default: Any
    parse: Callable[[Any], Any]
    help: str


SCHEMA: dict[str, Key] = {
    "currency": Key("EUR", _currency, "default ISO 4217 currency"),
    "locale": Key("en_IE", _text, "locale for amounts on receipts and screens"),
    "reader": Key("sim", _text, "reader spec: sim, ble:ADDRESS or ble:NAME"),
    "reader.timeout": Key(60.0, _positive_float, "seconds to wait for a card"),
    "ble.adapter": Key("", _text, "local Bluetooth adapter (e.g. hci1); empty for the default"),
    "ble.service_uuid": Key("0000fff0-0000-1000-8000-00805f9b34fb", _text, "reader GATT service"),
    "ble.write_uuid": Key("0000fff2-0000-1000-8000-00805f9b34fb", _text, "host-to-reader characteristic"),
    "ble.notify_uuid": Key("0000fff1-0000-1000-8000-00805f9b34fb", _text, "reader-to-host characteristic"),
    "gateway.url": Key("sandbox", _text, "acquirer base URL; 'sandbox' for the embedded sandbox"),
    "gateway.timeout": Key(15.0, _positive_float, "seconds to wait for the acquirer's answer"),
    "gateway.ca_bundle": Key("", _text, "custom CA bundle file for the acquirer's TLS"),
    "merchant.name": Key("mpos sandbox merchant", _text, "printed on receipts"),
    "merchant.address": Key("", _text, "printed on receipts"),
    "merchant.id": Key("SANDBOX000000001", _text, "acquirer merchant id (MID)"),
    "terminal.id": Key("MPOS0001", _text, "terminal id (TID)"),
    "contactless.cvm_limit": Key("50.00", _text, "contactless amounts above this need a PIN"),
    "offline.mode": Key("allow", _choice("allow", "never"), "store payments when the acquirer is unreachable"),
    "offline.max_amount": Key("100.00", _text, "largest single payment stored offline"),
    "offline.max_total": Key("500.00", _text, "largest total of stored payments"),
    "offline.max_count": Key(50, _positive_int, "most payments stored at once"),
    "offline.max_age_hours": Key(72, _positive_int, "stored payments older than this are not accepted"),
    "journal.lock_timeout": Key(10.0, _positive_float, "seconds to wait for another mpos process"),
    "printer.device": Key("", _text, "receipt printer: a device file (e.g. /dev/rfcomm0)"),
    "printer.profile": Key("default", _printer_profile, "python-escpos printer profile: width, code page (PC858/WPC1252)"),
    "timezone": Key("", _text, "IANA zone for business dates; empty for the system's"),
}

# Environment overrides (SPEC §2).
ENV_KEYS = {
    "MPOS_READER": "reader",
    "MPOS_GATEWAY_URL": "gateway.url",
    "MPOS_GATEWAY_TIMEOUT": "gateway.timeout",
    "MPOS_BLE_ADAPTER": "ble.adapter",
}

SECRET_WORDS = ("key", "secret", "password", "token")


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


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def read_file(path: Path) -> dict[str, Any]:
    """The file's keys, flattened; a corrupt file is exit 8 and stays as it is."""
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return _flatten(tomllib.load(fh))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StateUnreadable(
            f"config {path} is unreadable ({exc})",
            hint="fix or remove it; mpos leaves it untouched",
        ) from exc


def load(path: Path, environ: dict[str, str]) -> Config:
    file_values = read_file(path)
    values: dict[str, Any] = {}
    for key, spec in SCHEMA.items():
        raw = file_values.get(key, spec.default)
        source = f"{path}"
        for env_name, env_key in ENV_KEYS.items():
            if env_key == key and environ.get(env_name):
                raw, source = environ[env_name], env_name
        try:
            values[key] = spec.parse(raw)
        except (ValueError, TypeError, UsageError) as exc:
            detail = exc.one_line() if isinstance(exc, UsageError) else str(exc)
            raise StateUnreadable(f"bad value for {key} in {source}: {detail}", hint="fix it with mpos config set") from exc
    return Config(values, path, file_values)


def set_value(path: Path, key: str, raw: str) -> Any:
    """Validate and write one key atomically (temp file, fsync, rename)."""
    import tomli_w

    from mpos_cli.storage_util import atomic_write

    if key not in SCHEMA:
        if any(word in key.lower() for word in SECRET_WORDS):
            raise UsageError(
                f"{key} is a secret and is never written to config.toml",
                hint="set MPOS_GATEWAY_KEY or store it in the OS keyring",
            )
        raise UsageError(f"unknown config key {key!r}", hint="see mpos config show or man 5 mpos.toml")
    spec = SCHEMA[key]
    try:
        value = spec.parse(raw)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad value for {key}: {exc}") from exc
    flat = read_file(path)
    flat[key] = value
    # Written as flat, quoted dotted keys ("reader.timeout" = 30.0): ``reader``
    # is a value and ``reader.timeout`` another, which TOML tables cannot nest.
    document = dict(sorted(flat.items()))
    atomic_write(path, tomli_w.dumps(document).encode())
    return value


def environ() -> dict[str, str]:
    return dict(os.environ)
