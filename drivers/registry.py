"""Reader specs (SPEC §4) to reader objects.

- ``sim``: the simulated reader, in process;
- ``ble:ADDRESS`` or ``ble:NAME``: a NEO 2 reader over Bluetooth LE;
- any other name: a reader class registered by a third party in the
  ``mpos.readers`` entry-point group; ``NAME:ARGUMENT`` passes ARGUMENT on.

``options`` come from the configuration: ``cvm_limit_minor``, ``adapter``,
``service_uuid``, ``write_uuid``, ``notify_uuid``, ``timeout_s`` (and, for
BLE, ``scan_timeout_s``, default 30). A reader
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
    return sorted(names | {"sim", "ble"})


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
    entry = _entry_point(kind)
    if entry is None:
        raise ReaderRequestError(f"unknown reader {spec!r}", hint=f"use one of {', '.join(known_readers())} (ble:ADDRESS or ble:NAME)")
    return _build(entry.load(), argument or None, options)
