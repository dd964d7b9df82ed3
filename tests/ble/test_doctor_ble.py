"""mpos doctor's Bluetooth checks on the BlueZoo rig (tests/ble/conftest.py):
a private system bus, BlueZ's D-Bus API, and the simulated reader
advertising as a real peripheral."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import BUS_CONFIG, HOST_ADAPTER, READER_ADDRESS

pytestmark = pytest.mark.ble


def checks(result) -> dict[str, dict]:
    return {entry["check"]: entry for entry in result.json()}


def test_the_remembered_reader_in_range(peripheral, ble_env, mpos_process):
    env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": HOST_ADAPTER, "MPOS_READER": "ble:mpos-sim"}
    result = mpos_process("doctor", "--json", env=env)
    assert result.exit_code == 0, result
    found = checks(result)
    assert found["bluetooth"]["status"] == "ok" and f"adapter {HOST_ADAPTER}" in found["bluetooth"]["detail"]
    assert found["reader"]["status"] == "ok"
    assert f"mpos-sim is in range (mpos-sim, {READER_ADDRESS}," in found["reader"]["detail"]


def test_a_reader_not_in_range_is_exit_5(ble_env, mpos_process):
    env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": HOST_ADAPTER, "MPOS_READER": "ble:AA:BB:CC:DD:EE:FF"}
    result = mpos_process("doctor", "--json", env=env)
    assert result.exit_code == 5, result
    found = checks(result)
    assert found["bluetooth"]["status"] == "ok"
    assert found["reader"]["status"] == "fail"
    assert "AA:BB:CC:DD:EE:FF not seen within 3 s: switch it on" in found["reader"]["detail"]


def test_an_adapter_that_is_not_there_is_exit_5(ble_env, mpos_process):
    env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": "hci7", "MPOS_READER": "ble:mpos-sim"}
    result = mpos_process("doctor", "--json", env=env)
    assert result.exit_code == 5, result
    assert "no Bluetooth adapter hci7 (there is hci0, hci1)" in checks(result)["bluetooth"]["detail"]


def test_an_adapter_switched_off_is_exit_5(ble_env, mpos_process):
    def power(on: bool) -> None:
        subprocess.run(["dbus-send", f"--bus={ble_env}", "--print-reply", "--dest=org.bluez", f"/org/bluez/{HOST_ADAPTER}",
                        "org.freedesktop.DBus.Properties.Set", "string:org.bluez.Adapter1", "string:Powered",
                        f"variant:boolean:{'true' if on else 'false'}"], check=True, capture_output=True)

    power(False)
    try:
        env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": HOST_ADAPTER, "MPOS_READER": "ble:mpos-sim"}
        result = mpos_process("doctor", "--json", env=env)
    finally:
        power(True)
    assert result.exit_code == 5, result
    assert f"adapter {HOST_ADAPTER} is switched off: bluetoothctl power on" in checks(result)["bluetooth"]["detail"]


def test_a_bus_without_bluez_is_exit_5(tmp_path, mpos_process):
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is missing (apt-get install dbus)")
    config = tmp_path / "system.conf"
    config.write_text(BUS_CONFIG.format(socket=tmp_path / "bus_socket"))
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = daemon.stdout.readline().strip()
        result = mpos_process("doctor", "--json", env={"DBUS_SYSTEM_BUS_ADDRESS": address, "MPOS_READER": "ble:mpos-sim"})
    finally:
        daemon.terminate()
        daemon.wait(10)
    assert result.exit_code == 5, result
    assert checks(result)["bluetooth"]["detail"] == \
        "BlueZ (bluetoothd) is not running: start it (systemctl start bluetooth)"


def test_the_remembered_address_is_looked_for_too(peripheral, ble_env, mpos_process, isolated_home):
    # reader.json (mpos_cli.reader_select) says what this spec connected to last time.
    isolated_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    memory = isolated_home / "reader.json"
    memory.touch(mode=0o600)
    memory.write_text(
        '{"readers": {"ble:counter-9": {"address": "%s", "name": "counter-9", '
        '"connected_at": "2026-11-01T10:00:00+00:00"}}}' % READER_ADDRESS)
    env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": HOST_ADAPTER, "MPOS_READER": "ble:counter-9"}
    result = mpos_process("doctor", "--json", env=env)
    assert result.exit_code == 0, result  # it advertises as mpos-sim now, at the address remembered
    assert f"counter-9 is in range (mpos-sim, {READER_ADDRESS}," in checks(result)["reader"]["detail"]
