"""The embedded sandbox acquirer kept running between commands (SPEC §2:
``MPOS_GATEWAY_URL`` unset or ``sandbox``): started by the first command that
needs it, reused by the next, stopped when idle, restarted when gone."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest


@pytest.fixture
def background(mpos_process, isolated_home, monkeypatch):
    monkeypatch.delenv("MPOS_SANDBOX_DAEMON")
    yield isolated_home
    mpos_process("sandbox", "stop")


def _state(home):
    path = home / "sandbox" / "daemon.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_the_first_command_starts_it_and_the_next_reuse_it(mpos_process, background):
    first = mpos_process("charge", "2.00", "--json")
    assert first.exit_code == 0, first
    state = _state(background)
    assert state and state["url"].startswith("http://127.0.0.1:")
    assert oct((background / "sandbox" / "daemon.json").stat().st_mode & 0o777) == "0o600"
    second = mpos_process("charge", "3.00", "--json")
    assert second.exit_code == 0, second
    assert _state(background)["pid"] == state["pid"]
    ledger = mpos_process("sandbox", "ledger", "--json").json()
    assert {e["reference"] for e in ledger} == {first.json()["id"], second.json()["id"]}
    assert "SANDBOX" in second.stderr and second.json()["sandbox"] is True


def test_it_stops_when_idle_and_a_later_command_starts_a_new_one(mpos_process, background):
    assert mpos_process("charge", "2.00", "--json", env={"MPOS_SANDBOX_IDLE_SECONDS": "1"}).exit_code == 0
    pid = _state(background)["pid"]
    deadline = time.monotonic() + 15
    while _state(background) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _state(background) is None
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
    again = mpos_process("charge", "4.00", "--json")
    assert again.exit_code == 0, again
    assert _state(background)["pid"] != pid
    # The ledger survived the restart: both sales are there.
    assert len(mpos_process("sandbox", "ledger", "--json").json()) == 2


def test_a_killed_one_is_replaced(mpos_process, background):
    assert mpos_process("charge", "2.00", "--json").exit_code == 0
    pid = _state(background)["pid"]
    os.kill(pid, signal.SIGKILL)  # daemon.json stays behind, naming a dead process
    time.sleep(0.2)
    result = mpos_process("charge", "5.00", "--json")
    assert result.exit_code == 0, result
    assert _state(background)["pid"] != pid


def test_a_hold_for_one_command_keeps_the_acquirer_in_that_process(mpos_process, background):
    result = mpos_process("charge", "1.98", "--json", env={"MPOS_SANDBOX_HOLD_SECONDS": "0.2"})
    assert result.exit_code == 0, result
    assert _state(background) is None


def test_the_daemon_knows_the_hold_variable_by_the_servers_name():
    from mpos_cli.gateway.sandbox import daemon, server

    assert daemon.HOLD_ENV == server.HOLD_ENV
