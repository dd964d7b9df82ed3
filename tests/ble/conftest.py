"""The Bluetooth test rig: a private system-like D-Bus, BlueZoo with two
adapters (hci0 for the simulated reader, hci1 for mpos), the simulated
reader as a BLE peripheral in its own process.

Nothing here touches the machine's real Bluetooth: every process gets
DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers.reader_sessions import start_and_stop

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
READER_ADAPTER, HOST_ADAPTER = "hci0", "hci1"
READER_ADDRESS, HOST_ADDRESS = "00:00:00:11:11:11", "00:00:00:22:22:22"
STARTUP_S = 20.0  # how long a process may take to come up before the rig gives up

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"""

PERIPHERAL = """
import sys
from mpos_cli.drivers.sim.ble_peripheral import serve_ble
mtu = int(sys.argv[3]) if sys.argv[3] != "auto" else None
serve_ble(sys.argv[1], sys.argv[2], mtu=mtu, on_ready=lambda p: print("READY", flush=True))
"""


def wait_for_line(proc: subprocess.Popen, text: str, what: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise RuntimeError(f"{what} did not start (exit {proc.poll()})")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def bluetooth_rig(root: Path) -> Iterator[str]:
    """A private bus with BlueZoo on it, files under ``root``; yields the bus address."""
    socket = root / "system_bus_socket"
    config = root / "system.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = daemon.stdout.readline().strip()
    if not address:
        daemon.kill()
        raise RuntimeError("dbus-daemon did not print its address")
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}
    bluezoo_log = (root / "bluezoo.log").open("w")
    bluezoo = subprocess.Popen(
        [sys.executable, str(HERE / "run_bluezoo.py"), "--auto-enable", "--scan-interval", "1",
         "-a", READER_ADDRESS, "-a", HOST_ADDRESS],
        env=env, stdout=bluezoo_log, stderr=subprocess.STDOUT)
    try:
        _wait_for_bluez(address)
        yield address
    finally:
        _stop(bluezoo)
        _stop(daemon)
        bluezoo_log.close()


@pytest.fixture(scope="session")
def ble_bus(tmp_path_factory):
    """A private bus with BlueZoo on it; yields the bus address."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is missing (apt-get install dbus)")
    pytest.importorskip("bluezoo")
    with bluetooth_rig(tmp_path_factory.mktemp("bus")) as address:
        yield address


def _wait_for_bluez(address: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        probe = subprocess.run(
            ["dbus-send", f"--bus={address}", "--print-reply", "--dest=org.bluez", "/org/bluez/hci1",
             "org.freedesktop.DBus.Properties.Get", "string:org.bluez.Adapter1", "string:Powered"],
            capture_output=True, text=True)
        if probe.returncode == 0 and "true" in probe.stdout:
            return
        time.sleep(0.1)
    raise RuntimeError("BlueZoo did not come up")


class Peripheral:
    """The simulated reader advertising on hci0, in its own process."""

    def __init__(self, bus_address: str, name: str, mtu: int | None) -> None:
        self.bus_address, self.name, self.mtu = bus_address, name, mtu
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Peripheral":
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PERIPHERAL, READER_ADAPTER, self.name, str(self.mtu or "auto")],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        wait_for_line(self.proc, "READY", "the simulated BLE reader")
        return self

    def kill(self) -> None:
        """Pulled battery: no goodbye to BlueZ."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc:
            _stop(self.proc)


@pytest.fixture
def ble_env(ble_bus, monkeypatch):
    """This process talks to the private bus (bleak reads the variable)."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_bus)
    return ble_bus


@pytest.fixture
def peripheral_factory(ble_env):
    def start(name: str = "mpos-sim", mtu: int | None = None) -> Peripheral:
        return Peripheral(ble_env, name, mtu).start()

    yield from start_and_stop(start, Peripheral.stop)


@pytest.fixture
def peripheral(peripheral_factory):
    return peripheral_factory()
