"""What a user reads when Bluetooth itself is the problem (SPEC §6: exit 5).

BlueZoo cannot switch an adapter off for a scanner, so the mapping from
bleak's and BlueZ's errors is checked directly."""

from __future__ import annotations

import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakDBusError

from mpos_cli.drivers.transport.ble import is_address, unavailable
from mpos_cli.errors import ExitStatus, exit_status_of, one_line_of


@pytest.mark.parametrize("exc, reason", [
    (BleakBluetoothNotAvailableError("adapter off", BleakBluetoothNotAvailableReason.POWERED_OFF), "bluetooth_off"),
    (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "bluetooth_off"),
    (BleakBluetoothNotAvailableError("no adapter", BleakBluetoothNotAvailableReason.NO_BLUETOOTH), "bluetooth_unavailable"),
    (BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", ["org.bluez"]), "bluetooth_unavailable"),
    (BleakDBusError("org.freedesktop.DBus.Error.UnknownObject", ["/org/bluez/hci3"]), "adapter_not_found"),
    (FileNotFoundError(2, "No such file or directory"), "bluetooth_unavailable"),
])
def test_bluetooth_failures_are_reader_unavailable_with_a_reason(exc, reason):
    error = unavailable(exc, adapter="hci3", doing="scanning")
    assert error.reason == reason and exit_status_of(error) == ExitStatus.READER_UNAVAILABLE
    assert "\n" not in one_line_of(error) and error.hint


def test_switched_off_says_how_to_switch_it_on():
    error = unavailable(BleakDBusError("org.bluez.Error.NotReady", []), adapter=None, doing="scanning")
    assert "switched off" in error.message and "power on" in error.hint


@pytest.mark.parametrize("target, address", [
    ("00:11:22:AA:bb:CC", True), ("mpos-sim", False), ("IDTECH-VP3300-12345", False),
    ("6B8A3C1E-1D2F-4A5B-9C0D-1E2F3A4B5C6D", True),
])
def test_a_spec_is_an_address_or_a_name(target, address):
    assert is_address(target) is address
