"""Reader specs (SPEC §4) to reader objects.

- ``sim``: the simulated reader, in process;
- ``ble:ADDRESS`` or ``ble:NAME``: a NEO 2 reader over Bluetooth LE;
- ``serial:PATH``: a NEO 2 reader on a USB virtual COM port or RS-232
  (``serial:/dev/ttyACM0``), or the simulator on a pseudo-terminal;
- any other name: a reader class registered by a third party in the
  ``mpos.readers`` entry-point group; ``NAME:ARGUMENT`` passes ARGUMENT on.

``options`` come from the configuration: ``cvm_limit_minor``, ``adapter``,
``service_uuid``, ``write_uuid``, ``notify_uuid``, ``timeout_s``; for BLE
``scan_timeout_s`` (default 30), ``known_address`` (connect to it without a
scan when the platform still knows it), ``on_connected`` and
``on_progress`` (see ``BleTransport``); for serial ``baud_rate``. A reader
class gets the options its constructor accepts, or, if it has a
``from_spec(argument, options)`` class method, decides for itself.
"""

from __future__ import annotations

import inspect
from typing import Any

from mpos_cli.drivers.base import Reader
from mpos_cli.drivers.errors import ReaderRequestError

ENTRY_POINT_GROUP = "mpos.readers"


def _accepted(cls: type, options: dict[str, Any]) -> dict[str, Any]:
    parameters = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(options)
    return {key: value for key, value in options.items() if key in parameters}


def _build(cls: type, argument: str | None, options: dict[str, Any]) -> Reader:
    from_spec = getattr(cls, "from_spec", None)
    if callable(from_spec):
        return from_spec(argument, dict(options))
    return cls(**_accepted(cls, options))


def _entry_point(name: str):
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry
    return None


def known_readers() -> list[str]:
    from importlib.metadata import entry_points

    names = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names | {"sim", "ble", "serial"})


def open_reader(spec: str, *, options: dict[str, Any] | None = None) -> Reader:
    """A reader for ``spec``, not yet connected (``await reader.connect()``)."""
    options = {key: value for key, value in (options or {}).items() if value is not None}
    spec = (spec or "sim").strip()
    kind, _, argument = spec.partition(":")
    kind = kind.lower()
    if kind == "sim":
        from mpos_cli.drivers.sim.reader import SimulatedReader

        return _build(SimulatedReader, argument or None, options)
    if kind == "ble":
        if not argument:
            raise ReaderRequestError("reader spec ble needs an address or a name", hint="e.g. ble:AA:BB:CC:DD:EE:FF or ble:IDTECH-VP3300")
        from mpos_cli.drivers.neo2.reader import BleNeo2Reader

        return BleNeo2Reader.from_spec(argument, dict(options))
    if kind == "serial":
        return _serial_reader(argument, options)
    entry = _entry_point(kind)
    if entry is None:
        raise ReaderRequestError(f"unknown reader {spec!r}",
                                 hint=f"use one of {', '.join(known_readers())} (ble:ADDRESS, ble:NAME, serial:PATH)")
    return _build(entry.load(), argument or None, options)


def _serial_reader(path: str, options: dict[str, Any]) -> Reader:
    if not path:
        raise ReaderRequestError("reader spec serial needs the port's path", hint="e.g. serial:/dev/ttyACM0")
    from mpos_cli.drivers.neo2.reader import Neo2Reader
    from mpos_cli.drivers.transport.serial import DEFAULT_BAUD_RATE, SerialTransport

    transport = SerialTransport(path, baud_rate=int(options.get("baud_rate") or DEFAULT_BAUD_RATE))
    keys = ("timeout_s", "response_timeout_s", "interface")
    return Neo2Reader(transport, name=path, **{key: options[key] for key in keys if key in options})


def check_spec(spec: str) -> None:
    """Refuse a spec that can never name a reader (exit 2) without touching
    any hardware, so a command can check it before it writes anything."""
    kind, _, argument = (spec or "sim").strip().partition(":")
    kind = kind.lower()
    if kind in ("ble", "serial"):
        if not argument:
            example = "ble:AA:BB:CC:DD:EE:FF or ble:IDTECH-VP3300" if kind == "ble" else "serial:/dev/ttyACM0"
            what = "an address or a name" if kind == "ble" else "the port's path"
            raise ReaderRequestError(f"reader spec {kind} needs {what}", hint=f"e.g. {example}")
    elif kind != "sim" and _entry_point(kind) is None:
        raise ReaderRequestError(f"unknown reader {spec!r}",
                                 hint=f"use one of {', '.join(known_readers())} (ble:ADDRESS, ble:NAME, serial:PATH)")


def is_simulated(spec: str) -> bool:
    """Is ``spec`` the simulated reader: in process (``sim``), or served by
    ``mpos reader simulate --serial`` on a pseudo-terminal?"""
    kind, _, argument = (spec or "sim").strip().partition(":")
    if kind.lower() == "sim":
        return True
    if kind.lower() == "serial" and argument:
        from mpos_cli.drivers.transport.serial import is_pseudo_terminal

        return is_pseudo_terminal(argument)
    return False


def describe(reader: Reader) -> str:
    """The reader in use, for the sale screen: its name and how it is reached."""
    transport = getattr(reader, "transport", None)
    name = getattr(reader, "name", None) or type(reader).__name__
    kind = getattr(transport, "kind", None)
    address = getattr(transport, "address", None) or getattr(transport, "known_address", None)
    if kind == "ble":
        where = "Bluetooth LE" + (f" {address}" if address and address != name else "")
    elif kind == "serial":
        where = "serial"
    elif kind == "memory":
        where = "simulated, in process"
    else:
        where = kind
    return f"{name} ({where})" if where else name
