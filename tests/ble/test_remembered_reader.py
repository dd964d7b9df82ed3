"""The remembered reader over Bluetooth LE (BlueZoo rig, see conftest.py):
a reader connected once is reconnected by address without a scan while
BlueZ still knows it; a scan is bounded by reader.scan_timeout."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from mpos_cli.drivers.registry import open_reader
from mpos_cli.drivers.errors import ReaderUnavailable
from mpos_cli.errors import ExitStatus
from mpos_cli.reader_select import MEMORY_FILE

from .conftest import READER_ADDRESS

pytestmark = pytest.mark.ble

HOST = {"adapter": "hci1"}
CLI_ENV = {"MPOS_BLE_ADAPTER": "hci1"}


def connect(spec: str = "ble:mpos-sim", **options):
    """Connect, read the reader's status, close; returns the reader (transport counters inside)."""
    connected: list[tuple[str, str | None]] = []
    reader = open_reader(spec, options={**HOST, "on_connected": lambda a, n: connected.append((a, n)), **options})

    async def run():
        async with reader:
            return await reader.status()

    status = asyncio.run(run())
    assert status.connected
    reader.connected_to = connected
    return reader


def test_a_remembered_address_connects_without_a_scan(peripheral):
    first = connect()
    assert first.transport.scans == 1 and first.transport.direct_connects == 0
    assert first.connected_to == [(READER_ADDRESS, "mpos-sim")]

    again = connect(known_address=READER_ADDRESS)
    assert again.transport.scans == 0 and again.transport.direct_connects == 1
    assert again.transport.address == READER_ADDRESS


def test_a_reader_given_by_address_connects_without_a_scan_once_the_platform_knows_it(peripheral):
    connect()  # found by name: BlueZ on hci1 now knows 00:00:00:11:11:11
    by_address = connect(f"ble:{READER_ADDRESS}")
    assert by_address.transport.scans == 0 and by_address.transport.direct_connects == 1


def test_the_cli_remembers_the_reader_and_names_it_on_the_sale_screen(peripheral, mpos, isolated_home):
    assert mpos("reader", "use", "ble:mpos-sim").exit_code == 0
    first = mpos("charge", "12.50", "--json", env=CLI_ENV)
    assert first.exit_code == 0, first
    assert "Connecting to reader mpos-sim (Bluetooth LE)" in first.stderr
    remembered = json.loads((isolated_home / MEMORY_FILE).read_text())["readers"]["ble:mpos-sim"]
    assert (remembered["address"], remembered["name"]) == (READER_ADDRESS, "mpos-sim")
    assert (isolated_home / MEMORY_FILE).stat().st_mode & 0o777 == 0o600

    second = mpos("charge", "12.50", "--json", env=CLI_ENV)
    assert second.exit_code == 0, second
    assert f"Connecting to reader mpos-sim (Bluetooth LE {READER_ADDRESS})" in second.stderr
    # stderr is not a terminal here: no live "looking for…" line.
    assert "looking for" not in first.stderr + second.stderr


def _timed_charge(mpos, spec: str) -> tuple[object, float]:
    started = time.monotonic()
    result = mpos("charge", "5.00", env={**CLI_ENV, "MPOS_READER": spec})
    return result, time.monotonic() - started


def test_a_missing_reader_is_reported_within_the_scan_timeout(ble_env, mpos):
    assert mpos("config", "set", "reader.scan_timeout", "3").exit_code == 0
    result, took = _timed_charge(mpos, "ble:nobody-here")
    assert result.exit_code == ExitStatus.READER_UNAVAILABLE
    assert "not found within 3 s" in result.stderr
    assert took < 3 + 2, f"reported after {took:.1f} s"


def test_a_remembered_reader_that_is_gone_is_reported_within_the_scan_timeout(peripheral_factory, mpos):
    assert mpos("config", "set", "reader.scan_timeout", "3").exit_code == 0
    first = peripheral_factory()
    assert mpos("charge", "5.00", env={**CLI_ENV, "MPOS_READER": "ble:mpos-sim"}).exit_code == 0
    first.kill()  # BlueZ still knows the address; the reader does not answer
    result, took = _timed_charge(mpos, "ble:mpos-sim")
    assert result.exit_code == ExitStatus.READER_UNAVAILABLE, result
    assert took < 3 + 2, f"reported after {took:.1f} s"

    peripheral_factory()  # back on: the remembered address works again
    again, _ = _timed_charge(mpos, "ble:mpos-sim")
    assert again.exit_code == 0, again


def test_a_scan_gives_live_feedback_each_second_and_clears_it(ble_env):
    lines: list[str | None] = []
    with pytest.raises(ReaderUnavailable):
        connect("ble:VP3300-1234", scan_timeout_s=2.5, on_progress=lines.append)
    assert lines[0] == "looking for VP3300-1234… 0 s"
    assert "looking for VP3300-1234… 2 s" in lines
    assert lines[-1] is None  # the line is cleared before the error is printed
