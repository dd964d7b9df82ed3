"""Bluetooth LE transport on bleak: find a reader, connect, write, get notified.

The reader's GATT layout (mpos-reader-protocol(7)): one service, a write
characteristic for command frames, a notify characteristic for answers;
UUIDs from the configuration (``ble.*``). Frames are written in chunks of
the link's ATT payload (MTU - 3) and answers arrive in notifications of at
most that size; the NEO 2 decoder above reassembles them.

Failures a user can meet are ``ReaderUnavailable`` (exit 5) with a
bleak-style ``reason``: ``not_found``, ``bluetooth_off``,
``bluetooth_unavailable``, ``adapter_not_found``, ``connect_failed``,
``service_missing``, ``disconnected``. A link lost between commands is
reconnected once, on the next write.

A reader whose address is known (``known_address``: remembered from an
earlier connection, or the spec itself is an address) is connected to
directly when the platform still knows the device (BlueZ keeps it in its
object tree), without a scan; only if that fails does mpos scan, for what
is left of ``scan_timeout_s``. ``on_progress`` gets a line of live feedback
each second while looking ("looking for VP3300-1234… 4 s") and ``None`` when
done; ``on_connected(address, name)`` is called after each connection.

bleak is imported here only, so ``mpos --help`` never loads it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Callable

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakDBusError, BleakError

from mpos_cli.drivers.transport.base import LinkLost, Transport, discard_chunks
from mpos_cli.drivers.errors import ReaderUnavailable

DEFAULT_SERVICE_UUID = "0000fff0-0000-1000-8000-00805f9b34fb"
DEFAULT_WRITE_UUID = "0000fff2-0000-1000-8000-00805f9b34fb"
DEFAULT_NOTIFY_UUID = "0000fff1-0000-1000-8000-00805f9b34fb"
SCAN_TIMEOUT_S = 10.0  # SPEC §4: reader.scan_timeout, default 10 s
# Looking for the reader again mid-payment: it is either back at once or gone.
RECONNECT_SCAN_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 20.0
# A direct connection to a remembered address gets at most this share of the
# scan budget, so a reader that is gone is still reported within it.
DIRECT_SHARE = 0.5
# Names readers advertise when they do not list their service in the advertisement.
NAME_PREFIXES = ("mpos", "IDTECH", "VP3300", "ViVOpay")
_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")


def is_address(target: str) -> bool:
    """A MAC address (Linux, Windows) or a CoreBluetooth UUID (macOS)?"""
    return bool(_ADDRESS.match(target))


def default_adapter(adapter: str | None = None) -> str | None:
    return adapter or os.environ.get("MPOS_BLE_ADAPTER") or None


def _bluez(adapter: str | None) -> dict:
    return {"adapter": adapter} if adapter else {}


def unavailable(exc: BaseException, *, adapter: str | None, doing: str) -> ReaderUnavailable:
    """A bleak / D-Bus failure as the error a user can act on."""
    where = f"adapter {adapter}" if adapter else "the Bluetooth adapter"
    if isinstance(exc, BleakBluetoothNotAvailableError):
        if exc.reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            return ReaderUnavailable(f"Bluetooth is switched off ({where})", reason="bluetooth_off",
                                     hint="switch it on (bluetoothctl power on) and try again")
        return ReaderUnavailable(f"Bluetooth is not available: {exc.args[0]}", reason="bluetooth_unavailable",
                                 hint="check the adapter and that bluetoothd runs")
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error == "org.bluez.Error.NotReady":
            return ReaderUnavailable(f"Bluetooth is switched off ({where})", reason="bluetooth_off",
                                     hint="switch it on (bluetoothctl power on) and try again")
        if exc.dbus_error in ("org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.UnknownMethod"):
            return ReaderUnavailable(f"no Bluetooth {where}", reason="adapter_not_found",
                                     hint="pick another with MPOS_BLE_ADAPTER (e.g. hci0)")
        if exc.dbus_error in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"):
            return ReaderUnavailable("BlueZ (bluetoothd) is not running", reason="bluetooth_unavailable",
                                     hint="start the Bluetooth service")
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return ReaderUnavailable("cannot reach the system D-Bus for Bluetooth", reason="bluetooth_unavailable",
                                 hint="is dbus running, and bluetoothd?")
    text = str(exc) or type(exc).__name__
    if "not found" in text.lower() and "adapter" in text.lower():
        return ReaderUnavailable(f"no Bluetooth {where}", reason="adapter_not_found",
                                 hint="pick another with MPOS_BLE_ADAPTER (e.g. hci0)")
    return ReaderUnavailable(f"Bluetooth failed while {doing}: {text}", reason="ble_error")


@dataclass(frozen=True)
class FoundReader:
    name: str | None
    address: str
    rssi_dbm: int | None
    advertises_service: bool


async def scan(*, timeout_s: float = 5.0, adapter: str | None = None, service_uuid: str = DEFAULT_SERVICE_UUID,
               name_prefixes: tuple[str, ...] = NAME_PREFIXES) -> list[FoundReader]:
    """Readers in range: advertising our service, or named like a reader. Strongest first."""
    adapter = default_adapter(adapter)
    try:
        seen = await BleakScanner.discover(timeout=timeout_s, return_adv=True, bluez=_bluez(adapter))
    except (BleakError, OSError) as exc:
        raise unavailable(exc, adapter=adapter, doing="scanning") from exc
    found = []
    for device, adv in seen.values():
        name = adv.local_name or device.name
        has_service = service_uuid.lower() in (u.lower() for u in adv.service_uuids)
        if has_service or (name and name.startswith(name_prefixes)):
            found.append(FoundReader(name, device.address, adv.rssi, has_service))
    return sorted(found, key=lambda r: -(r.rssi_dbm if r.rssi_dbm is not None else -999))


class BleTransport(Transport):
    kind = "ble"

    def __init__(self, target: str, *, adapter: str | None = None, service_uuid: str = DEFAULT_SERVICE_UUID,
                 write_uuid: str = DEFAULT_WRITE_UUID, notify_uuid: str = DEFAULT_NOTIFY_UUID,
                 scan_timeout_s: float = SCAN_TIMEOUT_S, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 reconnects: int = 1, write_with_response: bool = True, known_address: str | None = None,
                 on_progress: Callable[[str | None], None] | None = None,
                 on_connected: Callable[[str, str | None], None] | None = None) -> None:
        super().__init__()
        self.target = target
        self.name = target
        self.known_address = known_address or (target if is_address(target) else None)
        self.on_progress = on_progress
        self.on_connected = on_connected
        self.scans = 0  # how often open() had to scan
        self.direct_connects = 0  # how often it connected to a known address without one
        self.adapter = default_adapter(adapter)
        self.service_uuid, self.write_uuid, self.notify_uuid = service_uuid.lower(), write_uuid.lower(), notify_uuid.lower()
        self.scan_timeout_s = scan_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.reconnects_allowed = reconnects
        self.reconnects = 0
        self.write_with_response = write_with_response
        self.chunk_size = 20
        self._rssi: int | None = None
        self._advertised_name: str | None = None
        self._client: BleakClient | None = None
        self._write_char = None
        self._inbox: asyncio.Queue | None = None
        self._lost: str | None = None  # why the link went, until we reconnect
        self._closing = False
        self._abandoned: set = set()  # clients of direct attempts given up on: their goodbyes are not ours

    @property
    def rssi_dbm(self) -> int | None:
        return self._rssi

    # -- finding and connecting ------------------------------------------------

    async def _find(self, timeout_s: float | None = None, *, budget_s: float | None = None):
        timeout_s = timeout_s or self.scan_timeout_s
        wanted = self.target.lower()
        by_address = is_address(self.target)

        def matches(device, adv) -> bool:
            if by_address:
                return device.address.lower() == wanted
            return (adv.local_name or device.name or "").lower() == wanted

        def remember(adv) -> bool:
            self._rssi = adv.rssi
            self._advertised_name = adv.local_name
            return True

        self.scans += 1
        ticker = asyncio.create_task(self._tick(f"looking for {self.target}")) if self.on_progress else None
        try:
            device = await BleakScanner.find_device_by_filter(
                lambda d, a: matches(d, a) and remember(a), timeout=max(0.1, timeout_s),
                bluez=_bluez(self.adapter))
        except (BleakError, OSError) as exc:
            raise unavailable(exc, adapter=self.adapter, doing="looking for the reader") from exc
        finally:
            if ticker is not None:
                ticker.cancel()
                self.on_progress(None)
        if device is None:
            what = "address" if by_address else "name"
            raise ReaderUnavailable(
                f"reader {self.target} not found within {budget_s or timeout_s:g} s", reason="not_found",
                hint=f"is it on and near? (no device with that {what} advertised; mpos reader scan lists them)")
        self.address = device.address
        return device

    async def _tick(self, doing: str) -> None:
        started = time.monotonic()
        while True:
            self.on_progress(f"{doing}… {int(time.monotonic() - started)} s")
            await asyncio.sleep(1.0)

    async def _known_device(self, address: str):
        """The device as the platform knows it already (no scan), or None.

        BlueZ keeps a device it has seen or connected to in its object tree
        (paired ones for good, others for a while); bleak connects straight
        to such an object. Elsewhere bleak would scan anyway, so None.
        """
        if not sys.platform.startswith("linux"):
            return None
        from bleak.backends.bluezdbus.manager import get_global_bluez_manager
        from bleak.backends.device import BLEDevice

        try:
            manager = await get_global_bluez_manager()
            adapter_path = f"/org/bluez/{self.adapter}" if self.adapter else manager.get_default_adapter()
            path = f"{adapter_path}/dev_{address.upper().replace(':', '_')}"
            known_address = manager.get_device_address(path)
        except (BleakError, OSError):
            return None  # not known (or no BlueZ: the scan will say why)
        try:
            name = manager.get_device_name(path)
        except BleakError:
            name = None
        # No check of the name: BlueZ may hold an old one, and an address is
        # one device's for good (a renamed reader is still the one we paid with).
        return BLEDevice(known_address, name, {"path": path, "props": {"Adapter": adapter_path,
                                                                         "Alias": name or known_address}})

    async def open(self, *, scan_timeout_s: float | None = None) -> None:
        self._closing = False
        self._inbox = asyncio.Queue()
        budget_s = scan_timeout_s or self.scan_timeout_s
        deadline = time.monotonic() + budget_s
        client = None
        known = self.address or self.known_address
        device = await self._known_device(known) if known else None
        if device is not None:
            if self.on_progress:
                self.on_progress(f"connecting to {self.target}…")
            client = await self._connect(device, timeout_s=min(self.connect_timeout_s, budget_s * DIRECT_SHARE),
                                         failure_is_final=False)
            if self.on_progress:
                self.on_progress(None)
            if client is not None:
                self.direct_connects += 1
        if client is None:
            device = await self._find(deadline - time.monotonic(), budget_s=budget_s)
            client = await self._connect(device, timeout_s=self.connect_timeout_s, failure_is_final=True)
        self._inbox = asyncio.Queue()  # nothing from an attempt given up on
        try:
            write_char, notify_char = self._characteristics(client)
            await client.start_notify(notify_char, self._on_notify)
        except ReaderUnavailable:
            await self._disconnect(client)
            raise
        except (BleakError, OSError) as exc:
            await self._disconnect(client)
            raise ReaderUnavailable(f"reader {self.target} refused notifications: {exc}", reason="connect_failed") from exc
        self._client, self._write_char, self._lost = client, write_char, None
        self.chunk_size = max(20, write_char.max_write_without_response_size)
        self.address = client.address
        if self.on_connected:
            # The name it advertised when found, else the platform's (possibly older) one.
            self.on_connected(client.address, self._advertised_name or device.name)

    async def _connect(self, device, *, timeout_s: float, failure_is_final: bool) -> BleakClient | None:
        client = BleakClient(device, disconnected_callback=self._on_disconnect, timeout=timeout_s,
                             bluez=_bluez(self.adapter))
        try:
            await client.connect()
        except (BleakError, OSError, asyncio.TimeoutError) as exc:
            if not failure_is_final:
                self._abandoned.add(client)
                await self._disconnect(client)
                return None  # the remembered device is not answering: look for it instead
            raise ReaderUnavailable(f"could not connect to reader {self.target}: {exc or 'timed out'}",
                                    reason="connect_failed", hint="move it closer or restart it") from exc
        return client

    def _characteristics(self, client: BleakClient):
        # The newest service instance wins if a stack shows an old one still.
        services = [s for s in client.services if s.uuid.lower() == self.service_uuid]
        for service in sorted(services, key=lambda s: s.handle, reverse=True):
            chars = {c.uuid.lower(): c for c in service.characteristics}
            if self.write_uuid in chars and self.notify_uuid in chars:
                return chars[self.write_uuid], chars[self.notify_uuid]
        raise ReaderUnavailable(f"{self.target} does not offer the reader service {self.service_uuid}",
                                reason="service_missing",
                                hint="is it a NEO 2 reader? (ble.service_uuid, ble.write_uuid, ble.notify_uuid)")

    async def _disconnect(self, client: BleakClient) -> None:
        try:
            await client.disconnect()
        except (BleakError, OSError, asyncio.TimeoutError):
            pass

    async def close(self) -> None:
        self._closing = True
        client, self._client = self._client, None
        if client is not None:
            await self._disconnect(client)
        self._inbox = None

    # -- link events -----------------------------------------------------------------

    def _on_notify(self, _char, data: bytearray) -> None:
        if self._inbox is not None:
            self.stats.notifications += 1
            self.stats.bytes_notified += len(data)
            self._inbox.put_nowait(bytes(data))

    def _on_disconnect(self, client) -> None:
        if self._closing or client in self._abandoned:
            return
        self._lost = "disconnected"
        if self._inbox is not None:
            self._inbox.put_nowait(LinkLost("disconnected"))

    async def _reconnect_or_fail(self, why: str, cause: BaseException | None = None) -> None:
        if self.reconnects >= self.reconnects_allowed:
            raise ReaderUnavailable(f"lost the connection to reader {self.target} ({why})", reason="disconnected",
                                    hint="check that it is on and near, then try again") from cause
        self.reconnects += 1
        old, self._client = self._client, None
        if old is not None:
            self._closing = True
            await self._disconnect(old)
        try:
            await self.open(scan_timeout_s=min(self.scan_timeout_s, RECONNECT_SCAN_TIMEOUT_S))
        except ReaderUnavailable as exc:
            raise ReaderUnavailable(f"lost the connection to reader {self.target} and could not reconnect "
                                    f"({exc.message})", reason="disconnected",
                                    hint="check that it is on and near, then try again") from exc

    # -- data ----------------------------------------------------------------------------

    async def write(self, frame: bytes) -> None:
        if self._inbox is None:
            raise ReaderUnavailable(f"reader {self.target} is not connected", reason="not_connected")
        if self._lost or self._client is None or not self._client.is_connected:
            await self._reconnect_or_fail(self._lost or "link down")
        for attempt in (1, 2):
            try:
                for i in range(0, len(frame), self.chunk_size):
                    chunk = frame[i : i + self.chunk_size]
                    await self._client.write_gatt_char(self._write_char, chunk, response=self.write_with_response)
                    self.stats.writes += 1
                    self.stats.bytes_written += len(chunk)
                return
            except (BleakError, OSError, EOFError, asyncio.TimeoutError) as exc:
                if attempt == 2:
                    raise ReaderUnavailable(f"lost the connection to reader {self.target} ({exc})",
                                            reason="disconnected", hint="check that it is on and near") from exc
                # The whole frame goes again after reconnecting: the reader
                # drops a partial frame when its link restarts.
                await self._reconnect_or_fail(str(exc) or type(exc).__name__, exc)

    async def read(self, timeout: float) -> bytes:
        if self._inbox is None:
            raise ReaderUnavailable(f"reader {self.target} is not connected", reason="not_connected")
        item = await asyncio.wait_for(self._inbox.get(), timeout)
        if isinstance(item, LinkLost):
            raise ReaderUnavailable(f"reader {self.target} disconnected", reason=item.reason,
                                    hint="check that it is on and near, then try again")
        return item

    def discard_input(self) -> None:
        discard_chunks(self._inbox)
