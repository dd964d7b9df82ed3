"""Payments over a serial line: ``mpos reader simulate --serial`` in its own
process on a pseudo-terminal, mpos opening the path with ``serial:PATH``
exactly as it would open a USB or RS-232 reader."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

from mpos_cli.drivers.registry import open_reader
from mpos_cli.drivers.errors import ReaderUnavailable
from mpos_cli.errors import ExitStatus, exit_status_of, one_line_of
from tests.conftest import REPO
from tests.helpers.card_data_scan import files_under, leaks
from tests.helpers.reader_sessions import pay_through, sale

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("mpos: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def journal(mpos, **env) -> list[dict]:
    result = mpos("journal", "list", "--json", env=env)
    assert result.exit_code == 0, result
    return result.json()


# -- the simulator process -------------------------------------------------------------


def test_simulate_serial_prints_a_pseudo_terminal_path_first_and_stops_quietly(serial_simulator_factory):
    simulator = serial_simulator_factory()
    assert re.fullmatch(r"/dev/(pts/\d+|ttys\d+)", simulator.path)
    assert stat.S_ISCHR(os.stat(simulator.path).st_mode)
    code, err = simulator.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err
    assert not os.path.exists(simulator.path) or simulator.path not in os.listdir("/dev/pts")

    interrupted = serial_simulator_factory()
    code, err = interrupted.stop(signal.SIGINT)
    assert code == ExitStatus.INTERRUPTED and "Traceback" not in err and "stopped" in err


def test_simulate_needs_one_of_ble_and_serial(mpos):
    result = mpos("reader", "simulate")
    assert result.exit_code == ExitStatus.USAGE and "--serial" in one_error_line(result.stderr)
    result = mpos("reader", "simulate", "--ble", "--serial")
    assert result.exit_code == ExitStatus.USAGE


# -- payments through the CLI ------------------------------------------------------------


def test_a_contactless_payment_over_serial_is_approved(serial_simulator, mpos):
    result = mpos("charge", "12.50", "--json", env={"MPOS_READER": serial_simulator.spec})
    assert result.exit_code == 0, result
    tx = result.json()
    assert tx["status"] == "approved" and tx["card"]["entry_mode"] == "contactless" and tx["card"]["cvm"] == "none"
    # The sale screen names the reader in use.
    assert f"Connecting to reader {serial_simulator.path} (serial)" in result.stderr


def test_chip_and_pin_and_contactless_above_the_cvm_limit_over_serial(serial_simulator, mpos):
    env = {"MPOS_READER": serial_simulator.spec}
    chip = mpos("charge", "20.00", "--card", "chip", "--json", env=env)
    assert chip.exit_code == 0, chip
    assert (chip.json()["card"]["entry_mode"], chip.json()["card"]["cvm"]) == ("chip", "online_pin")
    tapped = mpos("charge", "80.00", "--json", env=env)  # above the 50.00 contactless CVM limit: PIN
    assert tapped.exit_code == 0, tapped
    assert (tapped.json()["card"]["entry_mode"], tapped.json()["card"]["cvm"]) == ("contactless", "online_pin")
    assert [tx["status"] for tx in journal(mpos)] == ["approved", "approved"]


def test_a_swipe_fallback_over_serial_is_approved_and_leaves_no_card_data(serial_simulator, mpos, isolated_home):
    # The chip does not answer; the customer swipes. The reader sends the
    # stripe in DFEE23 (Enhanced Encrypted MSR block); the sandbox decrypts
    # its track 2 from the block's KSN.
    result = mpos("charge", "9.40", "--card", "swipe", "--json", env={"MPOS_READER": serial_simulator.spec})
    assert result.exit_code == 0, result
    tx = result.json()
    assert tx["status"] == "approved"
    assert (tx["card"]["entry_mode"], tx["card"]["cvm"]) == ("swipe", "signature")
    assert tx["card"]["masked_pan"].startswith("476173") and "*" in tx["card"]["masked_pan"]
    found = leaks("stdout", result.stdout.encode()) + leaks("stderr", result.stderr.encode())
    written = files_under(isolated_home)
    assert written  # the journal at least
    found += [hit for path in written for hit in leaks(str(path), path.read_bytes())]
    assert found == []


def test_a_declined_card_and_a_card_removed_over_serial(serial_simulator, mpos):
    env = {"MPOS_READER": serial_simulator.spec}
    assert mpos("charge", "7.00", "--card", "offline-decline", env=env).exit_code == ExitStatus.DECLINED
    assert mpos("charge", "7.00", "--card", "removed", env=env).exit_code == ExitStatus.CANCELLED
    # The reader is still in a good state afterwards.
    assert mpos("charge", "7.00", env=env).exit_code == 0


def _charge_and_kill_the_simulator_while_authorising(simulator, env, *args) -> tuple[int, str]:
    """A total ending in .98 makes the sandbox hold its (approving) answer for
    3 s: the card has been read, and the simulator dies before the answer."""
    charge = subprocess.Popen([sys.executable, "-m", "mpos_cli", "charge", "12.98", "--json", *args], cwd=REPO,
                              env={**env, "MPOS_READER": simulator.spec, "MPOS_SANDBOX_HOLD_SECONDS": "3"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "Authorising" not in seen:
        line = charge.stderr.readline()
        assert line, f"charge ended early: {seen}"
        seen += line
    simulator.kill()
    _, err = charge.communicate(timeout=60)
    return charge.returncode, seen + err


def test_the_simulator_killed_mid_payment_is_reader_unavailable_and_the_next_one_works(serial_simulator_factory,
                                                                                        isolated_home):
    env = dict(os.environ)
    # Chip: the issuer's answer must go back to the card (Complete Transaction),
    # and the reader is gone: exit 5, the authorisation reversed.
    first = serial_simulator_factory()
    code, err = _charge_and_kill_the_simulator_while_authorising(first, env, "--card", "chip")
    assert code == ExitStatus.READER_UNAVAILABLE, err
    line = one_error_line(err)
    assert first.path in line and "disconnected" in line and "reversed" in line

    # Contactless: the card left the field after its first GENERATE AC, so the
    # online answer decides and a reader gone by then changes nothing.
    tapped = serial_simulator_factory()
    code, err = _charge_and_kill_the_simulator_while_authorising(tapped, env)
    assert code == 0, err

    again = serial_simulator_factory()
    env["MPOS_READER"] = again.spec
    paid = subprocess.run([sys.executable, "-m", "mpos_cli", "charge", "12.50", "--card", "chip", "--json"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert paid.returncode == 0, paid.stderr
    assert '"status": "approved"' in paid.stdout
    listed = subprocess.run([sys.executable, "-m", "mpos_cli", "journal", "list", "--json"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    statuses = sorted(tx["status"] for tx in json.loads(listed.stdout))
    assert statuses == ["approved", "approved", "failed"]  # the chip sale the reader dropped was not taken


def test_low_battery_is_a_warning_before_thesale(serial_simulator_factory, mpos):
    low = serial_simulator_factory("--battery", "9")
    result = mpos("charge", "5.00", "--json", env={"MPOS_READER": low.spec})
    assert result.exit_code == 0, result
    assert result.json()["status"] == "approved"
    warning = result.stderr.index("battery is low (9 %)")
    assert warning < result.stderr.index("Present card")

    charged = serial_simulator_factory("--battery", "87")
    result = mpos("charge", "5.00", env={"MPOS_READER": charged.spec})
    assert result.exit_code == 0 and "battery" not in result.stderr


def test_the_low_battery_threshold_is_a_setting(serial_simulator_factory, mpos):
    assert mpos("config", "set", "reader.low_battery", "90").exit_code == 0
    simulator = serial_simulator_factory("--battery", "87")
    result = mpos("charge", "5.00", env={"MPOS_READER": simulator.spec})
    assert result.exit_code == 0 and "battery is low (87 %)" in result.stderr
    refused = mpos("config", "set", "reader.low_battery", "120")
    assert refused.exit_code == ExitStatus.USAGE


# -- ports that are not there, not ours, not serial ----------------------------------------


def test_a_missing_port_is_reader_unavailable_in_one_line(mpos, tmp_path):
    path = str(tmp_path / "ttyACM9")
    result = mpos("charge", "5.00", env={"MPOS_READER": f"serial:{path}"})
    assert result.exit_code == ExitStatus.READER_UNAVAILABLE
    assert f"serial port {path} does not exist" in one_error_line(result.stderr)


def test_a_file_that_is_not_a_serial_port_is_reader_unavailable(mpos, tmp_path):
    path = tmp_path / "not-a-port"
    path.write_bytes(b"")
    result = mpos("charge", "5.00", env={"MPOS_READER": f"serial:{path}"})
    assert result.exit_code == ExitStatus.READER_UNAVAILABLE
    assert "is not a serial port" in one_error_line(result.stderr)


def test_a_port_in_use_by_another_mpos_is_reader_unavailable(serial_simulator, mpos):
    holder = open_reader(serial_simulator.spec)

    async def hold_and_charge():
        await holder.transport.open()
        try:
            return await asyncio.to_thread(mpos, "charge", "5.00", env={"MPOS_READER": serial_simulator.spec})
        finally:
            await holder.transport.close()

    result = asyncio.run(hold_and_charge())
    assert result.exit_code == ExitStatus.READER_UNAVAILABLE
    assert "in use by another program" in one_error_line(result.stderr)


@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root opens any device")
def test_a_port_without_permission_is_reader_unavailable(serial_simulator, mpos):
    os.chmod(serial_simulator.path, 0)
    result = mpos("charge", "5.00", env={"MPOS_READER": serial_simulator.spec})
    assert result.exit_code == ExitStatus.READER_UNAVAILABLE
    assert "permission denied" in one_error_line(result.stderr)


def test_pyserial_open_errors_become_reasons_a_person_can_act_on():
    import serial

    from mpos_cli.drivers.transport.serial import open_error

    def reason(code, text="could not open port"):
        return open_error("/dev/ttyACM0", serial.SerialException(code, text)).reason

    assert reason(errno.ENOENT) == "not_found"
    assert reason(errno.EACCES) == "permission_denied"
    assert reason(errno.EAGAIN, "Could not exclusively lock port") == "busy"
    assert open_error("/dev/x", serial.SerialException("Could not configure port: (25, ...)")).reason == \
        "not_a_serial_port"
    hint = one_line_of(open_error("/dev/ttyACM0", serial.SerialException(errno.EACCES, "x")))
    assert "dialout" in hint and "\n" not in hint


def test_bad_serial_specs_are_usage_errors_and_write_nothing(mpos, isolated_home, tmp_path):
    result = mpos("charge", "5.00", env={"MPOS_READER": "serial:"})
    assert result.exit_code == ExitStatus.USAGE and "serial:/dev/ttyACM0" in one_error_line(result.stderr)
    # --card is for the simulator: a device that is not a pseudo-terminal is refused.
    result = mpos("charge", "5.00", "--card", "chip", env={"MPOS_READER": f"serial:{tmp_path / 'ttyUSB0'}"})
    assert result.exit_code == ExitStatus.USAGE and "--card" in one_error_line(result.stderr)
    assert not (isolated_home / "journal").exists() or journal(mpos) == []


def test_the_baud_rate_is_a_validated_setting(mpos):
    assert mpos("config", "set", "serial.baud_rate", "9600").exit_code == 0
    refused = mpos("config", "set", "serial.baud_rate", "12345")
    assert refused.exit_code == ExitStatus.USAGE and "115200" in one_error_line(refused.stderr)


# -- the transport under the driver ------------------------------------------------------------


@pytest.mark.parametrize("use_thread", [False, True], ids=["event-loop", "reader-thread"])
def test_the_transport_pays_with_the_loop_watching_the_port_or_a_thread_reading_it(serial_simulator, use_thread):
    from mpos_cli.drivers.neo2.reader import Neo2Reader
    from mpos_cli.drivers.transport.serial import SerialTransport

    transport = SerialTransport(serial_simulator.path, use_thread=use_thread)
    reader = Neo2Reader(transport, name=serial_simulator.path)
    result, completion = asyncio.run(pay_through(reader, sale(8000, "chip")))
    assert result.cvm == "online_pin" and completion.accepted
    assert transport.kind == "serial" and transport.stats.bytes_written > 0 and transport.stats.bytes_notified > 0


def test_a_reader_gone_between_commands_is_unavailable_at_once(serial_simulator):
    reader = open_reader(serial_simulator.spec)

    async def pay_then_lose_the_line():
        async with reader:
            await reader.start_transaction(sale())
            serial_simulator.kill()
            started = time.monotonic()
            with pytest.raises(ReaderUnavailable) as caught:
                await reader.status()
            return caught.value, time.monotonic() - started

    error, waited = asyncio.run(pay_then_lose_the_line())
    assert error.reason == "disconnected" and exit_status_of(error) == ExitStatus.READER_UNAVAILABLE
    assert waited < 2.0  # the hang-up is seen, not waited out
