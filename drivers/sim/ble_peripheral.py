"""The simulated reader as a Bluetooth LE peripheral, through BlueZ's D-Bus API.

It registers a GATT application (GattManager1.RegisterApplication: one
primary service, a write characteristic the host sends command frames to,
a notify characteristic the answers come back on) and an advertisement
(LEAdvertisingManager1.RegisterAdvertisement: the reader's name and the
service UUID), then serves NEO 2 frames with ``Neo2DeviceServer`` in front
of ``SimulatedReaderDevice``: the same device logic as the in-process
``sim`` reader. It works with a real BlueZ and with BlueZoo alike.

dbus-fast is imported here only, so ``mpos --help`` never pays for it.
This module deliberately has no ``from __future__ import annotations``:
dbus-fast reads D-Bus signatures from the annotations as written.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Callable, Optional

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from mpos_cli.drivers.sim.device import SimulatedReaderDevice
from mpos_cli.drivers.sim.server import Neo2DeviceServer
from mpos_cli.drivers.transport.base import ATT_HEADER, TransportStats
from mpos_cli.drivers.errors import ReaderUnavailable

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
DEFAULT_SERVICE_UUID = "0000fff0-0000-1000-8000-00805f9b34fb"
DEFAULT_WRITE_UUID = "0000fff2-0000-1000-8000-00805f9b34fb"
DEFAULT_NOTIFY_UUID = "0000fff1-0000-1000-8000-00805f9b34fb"
DEFAULT_ATT_MTU = 23  # until BlueZ tells us the link's MTU in a write's options
APP_PATH = "/org/mpos/reader"
ADVERTISEMENT_PATH = "/org/mpos/advertisement0"


@dataclass
class PeripheralStats(TransportStats):
    """The link as the reader sees it (the host's counts, from the other end),
    and the connections and MTUs it was offered."""

    connections: int = 0
    mtu_seen: set = field(default_factory=set)


class _Service(ServiceInterface):
    def __init__(self, uuid: str) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: F821 - D-Bus signature
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":  # noqa: F821
        return True


class _Characteristic(ServiceInterface):
    def __init__(self, uuid: str, service_path: str, flags: list, mtu: Optional[int]) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid, self._service_path, self._flags, self._mtu = uuid, service_path, flags, mtu
        self._value = b""

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: F821
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":  # noqa: F821
        return self._service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":  # noqa: F821
        return self._flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":  # noqa: F821
        return self._value

    @dbus_method()
    def ReadValue(self, options: "a{sv}") -> "ay":  # noqa: F821
        return self._value

    @dbus_method()
    def Confirm(self) -> None:
        """Indication confirmed (BlueZoo calls it after notifications too): nothing to do."""


class _MtuCharacteristic(_Characteristic):
    """A characteristic that states the link MTU (BlueZoo takes it from here)."""

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":  # noqa: F821
        return self._mtu or 517


class _WriteCharacteristic(_MtuCharacteristic):
    def __init__(self, uuid: str, service_path: str, mtu: Optional[int], on_write: Callable) -> None:
        super().__init__(uuid, service_path, ["write", "write-without-response"], mtu)
        self._on_write = on_write

    @dbus_method()
    def WriteValue(self, value: "ay", options: "a{sv}") -> None:  # noqa: F821
        mtu = options.get("mtu")
        self._on_write(bytes(value), int(mtu.value) if isinstance(mtu, Variant) else None)


class _NotifyCharacteristic(_MtuCharacteristic):
    def __init__(self, uuid: str, service_path: str, mtu: Optional[int]) -> None:
        super().__init__(uuid, service_path, ["notify"], mtu)
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":  # noqa: F821
        return self.notifying

    @dbus_method()
    def StartNotify(self) -> None:
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @dbus_method()
    def StopNotify(self) -> None:
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    def notify(self, chunk: bytes) -> None:
        self._value = chunk
        self.emit_properties_changed({"Value": chunk})


class _Advertisement(ServiceInterface):
    def __init__(self, name: str, service_uuid: str) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self._name, self._service_uuid = name, service_uuid

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":  # noqa: F821
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":  # noqa: F821
        return [self._service_uuid]

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":  # noqa: F821
        return self._name

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":  # noqa: F821
        return True

    @dbus_method()
    def Release(self) -> None:
        log.info("BlueZ released the advertisement")


class BlePeripheral:
    """The simulated reader on one adapter: GATT service + advertisement."""

    def __init__(self, *, adapter: Optional[str] = None, name: str = "mpos-sim", cvm_limit_minor: int = 5000,
                 service_uuid: str = DEFAULT_SERVICE_UUID, write_uuid: str = DEFAULT_WRITE_UUID,
                 notify_uuid: str = DEFAULT_NOTIFY_UUID, mtu: Optional[int] = None,
                 device: Optional[SimulatedReaderDevice] = None) -> None:
        self.adapter = adapter
        self.name = name
        self.device = device or SimulatedReaderDevice(cvm_limit_minor=cvm_limit_minor)
        self.server = Neo2DeviceServer(self.device)
        self.service_uuid, self.write_uuid, self.notify_uuid = service_uuid, write_uuid, notify_uuid
        self.mtu = mtu  # fixed MTU to state (tests); None: whatever BlueZ reports
        self.stats = PeripheralStats()
        self.bus: Optional[MessageBus] = None
        self.adapter_path: Optional[str] = None
        self._notify: Optional[_NotifyCharacteristic] = None
        self._link_mtu = mtu or DEFAULT_ATT_MTU
        self._hosts: set = set()

    def _on_write(self, chunk: bytes, mtu: Optional[int]) -> None:
        if mtu:
            self._link_mtu = self.mtu or mtu
            self.stats.mtu_seen.add(mtu)
        self.stats.writes += 1
        self.stats.bytes_written += len(chunk)
        size = max(1, self._link_mtu - ATT_HEADER)
        for response in self.server.feed(chunk):
            for i in range(0, len(response), size):
                piece = response[i : i + size]
                self.stats.notifications += 1
                self.stats.bytes_notified += len(piece)
                self._notify.notify(piece)

    async def _find_adapter(self) -> str:
        introspection = await self.bus.introspect(BLUEZ, "/")
        manager = self.bus.get_proxy_object(BLUEZ, "/", introspection).get_interface(
            "org.freedesktop.DBus.ObjectManager")
        objects = await manager.call_get_managed_objects()
        adapters = sorted(path for path, ifaces in objects.items() if "org.bluez.GattManager1" in ifaces)
        if self.adapter:
            wanted = f"/org/bluez/{self.adapter}"
            if wanted not in adapters:
                raise ReaderUnavailable(f"no Bluetooth adapter {self.adapter}", reason="adapter_not_found",
                                        hint=f"adapters here: {', '.join(p.rsplit('/', 1)[-1] for p in adapters) or 'none'}")
            path = wanted
        elif adapters:
            path = adapters[0]
        else:
            raise ReaderUnavailable("no Bluetooth adapter that can act as a peripheral", reason="adapter_not_found")
        powered = objects[path]["org.bluez.Adapter1"].get("Powered")
        if powered is not None and not powered.value:
            raise ReaderUnavailable(f"Bluetooth adapter {path.rsplit('/', 1)[-1]} is switched off",
                                    reason="adapter_off", hint="switch it on (bluetoothctl power on)")
        return path

    async def start(self) -> None:
        try:
            self.bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, DBusError) as exc:
            raise ReaderUnavailable(f"cannot reach the system D-Bus ({exc})", reason="no_dbus",
                                    hint="is dbus running (and BlueZ, bluetoothd)?") from exc
        try:
            self.adapter_path = await self._find_adapter()
        except DBusError as exc:
            raise ReaderUnavailable(f"BlueZ is not answering on D-Bus ({exc.text})", reason="no_bluez",
                                    hint="start bluetoothd") from exc
        service_path = f"{APP_PATH}/service0"
        self._notify = _NotifyCharacteristic(self.notify_uuid, service_path, self.mtu)
        self.bus.export(service_path, _Service(self.service_uuid))
        self.bus.export(f"{service_path}/char0", _WriteCharacteristic(self.write_uuid, service_path, self.mtu, self._on_write))
        self.bus.export(f"{service_path}/char1", self._notify)
        self.bus.export(ADVERTISEMENT_PATH, _Advertisement(self.name, self.service_uuid))

        introspection = await self.bus.introspect(BLUEZ, self.adapter_path)
        proxy = self.bus.get_proxy_object(BLUEZ, self.adapter_path, introspection)
        try:
            await proxy.get_interface("org.bluez.GattManager1").call_register_application(APP_PATH, {})
            await proxy.get_interface("org.bluez.LEAdvertisingManager1").call_register_advertisement(
                ADVERTISEMENT_PATH, {})
        except DBusError as exc:
            raise ReaderUnavailable(f"BlueZ refused the simulated reader ({exc.text})", reason="register_failed",
                                    hint="is the adapter on and free for advertising?") from exc
        await self._watch_connections()
        log.info("advertising %s on %s", self.name, self.adapter_path)

    async def _watch_connections(self) -> None:
        rule = (f"type='signal',sender='{BLUEZ}',interface='org.freedesktop.DBus.Properties',"
                f"member='PropertiesChanged',path_namespace='{self.adapter_path}'")
        await self.bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                    interface="org.freedesktop.DBus", member="AddMatch", signature="s", body=[rule]))
        self.bus.add_message_handler(self._on_signal)

    def _on_signal(self, message: Message):
        if (message.message_type != MessageType.SIGNAL or message.member != "PropertiesChanged"
                or not (message.path or "").startswith(f"{self.adapter_path}/dev_")
                or message.body[0] != "org.bluez.Device1" or "Connected" not in message.body[1]):
            return None
        host = message.path.rsplit("/", 1)[-1]
        connected = bool(message.body[1]["Connected"].value)
        if connected == (host in self._hosts):
            return None  # no change (BlueZ may repeat itself)
        if connected:
            self._hosts.add(host)
            self.stats.connections += 1
            log.info("host connected: %s", host)
        else:
            self._hosts.discard(host)
            log.info("host disconnected: %s", host)
            self.server.reset_link()
            if self._notify.notifying:  # the host is gone, and its subscription with it
                self._notify.StopNotify()
        return None

    async def stop(self) -> None:
        if self.bus is None:
            return
        try:
            introspection = await self.bus.introspect(BLUEZ, self.adapter_path)
            proxy = self.bus.get_proxy_object(BLUEZ, self.adapter_path, introspection)
            await proxy.get_interface("org.bluez.LEAdvertisingManager1").call_unregister_advertisement(ADVERTISEMENT_PATH)
            await proxy.get_interface("org.bluez.GattManager1").call_unregister_application(APP_PATH)
        except (DBusError, OSError, EOFError):
            pass  # BlueZ went first
        self.bus.disconnect()
        self.bus = None


async def run_peripheral(adapter: Optional[str] = None, name: str = "mpos-sim", *,
                         on_ready: Optional[Callable[[BlePeripheral], None]] = None,
                         stop: Optional[asyncio.Event] = None, **options) -> BlePeripheral:
    """Serve until ``stop`` is set (or forever); returns the peripheral with its counters."""
    peripheral = BlePeripheral(adapter=adapter, name=name, **options)
    await peripheral.start()
    try:
        if on_ready:
            on_ready(peripheral)
        await (stop.wait() if stop else asyncio.Event().wait())
    finally:
        await peripheral.stop()
    return peripheral


def serve_ble(adapter: Optional[str] = None, name: str = "mpos-sim", *,
              on_ready: Optional[Callable[[BlePeripheral], None]] = None, **options) -> None:
    """Run the simulated reader as a BLE peripheral until interrupted (Ctrl-C).

    ``options``: ``cvm_limit_minor``, ``service_uuid``, ``write_uuid``,
    ``notify_uuid``, ``mtu``. Raises ``ReaderUnavailable`` when there is no
    D-Bus, no BlueZ, no such adapter or the adapter is off.
    """
    asyncio.run(run_peripheral(adapter, name, on_ready=on_ready, **options))
