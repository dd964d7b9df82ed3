"""mpos reader simulate --ble / scan / status, as separate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from .conftest import REPO, wait_for_line

pytestmark = pytest.mark.ble


@pytest.fixture
def simulator(ble_env, isolated_home):
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_HOME": str(isolated_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpos_cli", "reader", "simulate", "--ble", "--adapter", "hci0", "--name", "counter-2"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.stdout = proc.stderr  # the ready line is a message: stderr
    wait_for_line(proc, "advertising on hci0", "mpos reader simulate --ble")
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_simulate_scan_status_and_charge(simulator, mpos_process, ble_env):
    env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": "hci1"}
    scan = mpos_process("reader", "scan", "--timeout", "2", "--json", env=env)
    assert scan.exit_code == 0, scan
    assert {"name": "counter-2", "address": "00:00:00:11:11:11", "spec": "ble:00:00:00:11:11:11"}.items() <= \
        next(r for r in scan.json() if r["name"] == "counter-2").items()

    env["MPOS_READER"] = "ble:counter-2"
    status = mpos_process("reader", "status", "--json", env=env)
    assert status.exit_code == 0, status
    assert status.json()["transport"] == "ble" and status.json()["firmware"] == "NEO2-SIM 1.0"

    charge = mpos_process("charge", "80.00", "--json", env=env)
    assert charge.exit_code == 0, charge
    assert charge.json()["status"] == "approved" and charge.json()["card"]["cvm"] == "online_pin"

    simulator.send_signal(signal.SIGINT)
    assert simulator.wait(10) == 130


@pytest.mark.slow  # the full 30 s scan a user waits for before "not found"
def test_charge_with_no_reader_in_range_exits_5(ble_env, mpos_process):
    env = {"DBUS_SYSTEM_BUS_ADDRESS": ble_env, "MPOS_BLE_ADAPTER": "hci1", "MPOS_READER": "ble:AA:BB:CC:DD:EE:FF"}
    # The journal records the failed attempt; the one error line says what to do.
    charge = mpos_process("charge", "5", env=env, timeout=90)
    assert charge.exit_code == 5, charge
    assert "AA:BB:CC:DD:EE:FF not found" in charge.stderr
