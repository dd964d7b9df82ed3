"""Choosing and reaching the reader: the remembered reader, live feedback
while looking for it, and the checks before a sale.

- ``RememberedReaders``: the address each reader spec resolved to when it
  last connected (``reader.json`` under the data home). The next payment
  hands it to the driver, which connects to it directly when the platform
  still knows the device and scans only if that fails (SPEC §4). It is a
  cache: an unreadable file is treated as empty, never as an error.
- ``LiveLine``: "looking for VP3300-1234… 4 s" on stderr, rewritten in
  place each second; silent when stderr is not a terminal.
- ``connect_for_sale``: connect, name the reader on the sale screen, and
  warn (never fail) when its battery is low, before the card is asked for.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from mpos_cli.drivers.errors import ReaderError

MEMORY_FILE = "reader.json"
MAX_REMEMBERED = 8  # specs with an address on file; the oldest goes first


class RememberedReaders:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        readers = data.get("readers") if isinstance(data, dict) else None
        return {spec: entry for spec, entry in (readers or {}).items()
                if isinstance(entry, dict) and isinstance(entry.get("address"), str)}

    def get(self, spec: str) -> dict | None:
        """``{"address", "name", "connected_at"}`` for ``spec``, if it connected before."""
        return self._load().get(spec)

    def address_for(self, spec: str) -> str | None:
        entry = self.get(spec)
        return entry["address"] if entry else None

    def remember(self, spec: str, address: str, name: str | None = None) -> None:
        from mpos_cli.storage_util import atomic_write

        readers = self._load()
        if readers.get(spec, {}).get("address") == address and readers[spec].get("name") == name:
            return  # nothing new: no write on every payment
        readers.pop(spec, None)
        readers[spec] = {"address": address, "name": name,
                         "connected_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        newest = dict(list(readers.items())[-MAX_REMEMBERED:])
        atomic_write(self.path, (json.dumps({"readers": newest}, indent=2) + "\n").encode())

    def forget(self, spec: str) -> None:
        from mpos_cli.storage_util import atomic_write

        readers = self._load()
        if readers.pop(spec, None) is not None:
            atomic_write(self.path, (json.dumps({"readers": readers}, indent=2) + "\n").encode())


def remembered_readers(env) -> RememberedReaders:
    return RememberedReaders(env.data_path(MEMORY_FILE))


class LiveLine:
    """One status line on a terminal, rewritten in place; nothing elsewhere."""

    def __init__(self, stream) -> None:
        self.stream = stream
        try:
            self.live = stream.isatty()
        except (AttributeError, ValueError):
            self.live = False
        self._shown = False

    def __call__(self, text: str | None) -> None:
        if not self.live:
            return
        if text is None:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False
            return
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self._shown = True


def reader_options(env, spec: str) -> dict:
    """What the configuration and the memory tell the driver about ``spec``."""
    config = env.config
    memory = remembered_readers(env)
    return {
        "scan_timeout_s": config["reader.scan_timeout"],
        "baud_rate": config["serial.baud_rate"],
        "known_address": memory.address_for(spec),
        "on_connected": lambda address, name: _remember_quietly(memory, spec, address, name),
        "on_progress": LiveLine(env.stderr),
    }


def _remember_quietly(memory: RememberedReaders, spec: str, address: str, name: str | None) -> None:
    try:
        memory.remember(spec, address, name)
    except OSError:
        pass  # a full disk must not fail the payment; the next one scans


async def connect_for_sale(reader, notify: Callable[[object], None], *, low_battery_percent: int) -> None:
    """Connect, say which reader is in use, and warn before the sale when its battery is low.

    A low battery is a warning here, not a failure in the middle: the
    merchant can still take this payment, and knows to charge the reader.
    """
    from mpos_cli.drivers.registry import describe

    from mpos_cli.progress import Connecting

    notify(Connecting(text=f"Connecting to reader {describe(reader)}…"))
    await reader.connect()
    try:
        status = await reader.status()
    except ReaderError:
        return  # a reader that cannot report its status can still take the payment
    if status.battery_percent is not None and status.battery_percent <= low_battery_percent:
        notify(f"warning: the reader's battery is low ({status.battery_percent} %); "
               "charge it after this sale")
