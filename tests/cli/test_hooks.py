"""Hooks (SPEC §12): plain executables in $MPOS_HOME/hooks/ that approve,
refuse, hang and fail, through the CLI, with the sandbox acquirer and the
simulated reader. MPOS_HOOK_TIMEOUT lowers the 10 s limit so that a hanging
hook costs a second."""

from __future__ import annotations

import json
import os
import time

import pytest

from mpos_cli import hooks as hooks_mod
from tests.helpers.card_data_scan import leaks

FAST = {"MPOS_HOOK_TIMEOUT": "1"}


@pytest.fixture
def hook(isolated_home):
    """Write an executable hook: ``hook("pre-charge", "exit 0")``."""
    folder = isolated_home / "hooks"

    def write(name: str, body: str, mode: int = 0o700):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        os.chmod(path, mode)
        return path

    return write


def journal_records(home) -> int:
    folder = home / "journal"
    if not folder.exists():
        return 0
    return sum(len(p.read_bytes().splitlines()) for p in folder.glob("*.log"))


def test_the_limit_is_ten_seconds_and_only_tests_lower_it():
    assert hooks_mod.DEFAULT_TIMEOUT_S == 10
    assert hooks_mod.timeout_s({}) == 10
    assert hooks_mod.timeout_s({"MPOS_HOOK_TIMEOUT": "1.5"}) == 1.5
    assert hooks_mod.timeout_s({"MPOS_HOOK_TIMEOUT": "600"}) == 10  # never longer
    assert hooks_mod.timeout_s({"MPOS_HOOK_TIMEOUT": "soon"}) == 10


def test_pre_charge_that_approves_sees_the_request(mpos, hook, tmp_path):
    seen = tmp_path / "request.json"
    hook("pre-charge", f'cat > "{seen}"; env > "{tmp_path}/env.txt"')
    result = mpos("charge", "12.50", "--tip", "1.50", "--note", "table 4", "--json",
                  env={"MPOS_GATEWAY_KEY": "hook-must-not-see-this"})
    assert result.exit_code == 0, result
    assert result.json()["status"] == "approved"
    request = json.loads(seen.read_text())
    assert request == {"amount_minor": 1250, "tip_minor": 150, "total_minor": 1400, "currency": "EUR", "items": [],
                       "note": "table 4", "method": "card", "terminal_id": "MPOS0001"}
    environment = (tmp_path / "env.txt").read_text()
    assert "MPOS_HOOK=pre-charge" in environment
    assert "hook-must-not-see-this" not in environment  # the acquirer's secret stays with mpos


def test_pre_charge_that_refuses_stops_the_sale_before_anything_is_written(mpos, hook, isolated_home):
    hook("pre-charge", 'echo "over the daily limit for this till" >&2; echo "second line" >&2; exit 1')
    result = mpos("charge", "250.00", "--json")
    assert result.exit_code == 2, result
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("mpos: error:")]
    assert errors == ["mpos: error: refused by the pre-charge hook: over the daily limit for this till: nothing was charged"]
    assert result.stderr.splitlines()[-1] == errors[0]
    assert journal_records(isolated_home) == 0  # not even the intent: the reader was never asked
    ledger = mpos("sandbox", "ledger", "--json")
    assert ledger.exit_code == 0 and ledger.json() == []


def test_a_hanging_pre_charge_is_killed_and_refuses(mpos, hook, isolated_home):
    hook("pre-charge", "sleep 30")
    started = time.monotonic()
    result = mpos("charge", "5.00", env=FAST)
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, result
    assert "refused by the pre-charge hook: it did not finish within 1 s and was stopped" in result.stderr
    assert elapsed < 25  # killed, not waited for (the hook sleeps 30 s)
    assert journal_records(isolated_home) == 0


def test_post_charge_gets_the_result_as_json_after_it_is_journaled(mpos, hook, tmp_path):
    seen = tmp_path / "result.json"
    # The hook reads the journal itself: the payment is there before it runs.
    hook("post-charge", f'cat > "{seen}"; id=$(sed -n \'s/.*"id": "\\([^"]*\\)".*/\\1/p\' "{seen}" | head -1); '
                        f'"{os.sys.executable}" -m mpos_cli journal show "$id" --json > "{tmp_path}/journal.json"')
    result = mpos("charge", "8.00", "--card", "chip", "--json")
    assert result.exit_code == 0, result
    sent = json.loads(seen.read_text())
    assert sent == result.json()  # the --json shape, SPEC §5
    assert json.loads((tmp_path / "journal.json").read_text())["status"] == "approved"
    assert leaks("post-charge stdin", seen.read_bytes()) == []


def test_post_charge_runs_for_a_decline_too_and_the_exit_status_stays(mpos, hook, tmp_path):
    seen = tmp_path / "result.json"
    hook("post-charge", f'cat > "{seen}"')
    result = mpos("charge", "10.05", "--json")
    assert result.exit_code == 3, result
    assert json.loads(seen.read_text())["status"] == "declined"


def test_a_failing_post_charge_is_reported_and_changes_nothing(mpos, hook, isolated_home):
    hook("post-charge", 'echo "spreadsheet is locked" >&2; exit 3')
    result = mpos("charge", "6.00", "--json")
    assert result.exit_code == 0, result
    tx = result.json()  # stdout is still exactly one JSON document
    assert tx["status"] == "approved"
    assert "warning: hook post-charge exited with status 3: spreadsheet is locked; the payment is unaffected" \
        in result.stderr
    shown = mpos("journal", "show", tx["id"], "--json")
    assert shown.json()["status"] == "approved"


def test_a_hanging_post_charge_is_killed_with_its_children_and_the_sale_stands(mpos, hook, tmp_path):
    pid_file = tmp_path / "child.pid"
    hook("post-charge", f'sleep 60 & echo $! > "{pid_file}"; wait')
    result = mpos("charge", "7.00", "--json", env=FAST)
    assert result.exit_code == 0, result
    assert result.json()["status"] == "approved"
    assert "warning: hook post-charge did not finish within 1 s and was stopped; the payment is unaffected" \
        in result.stderr
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)  # the whole process group went, not just the hook


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie is dead, waiting for its reaper
    except FileNotFoundError:
        return False


def test_post_refund_and_post_settle_get_their_results(mpos, hook, tmp_path):
    hook("post-refund", f'cat >> "{tmp_path}/refunds.jsonl"')
    hook("post-settle", f'cat > "{tmp_path}/settle.json"')
    sale = mpos("charge", "20.00", "--json").json()
    other = mpos("charge", "9.00", "--json").json()
    refund = mpos("refund", sale["id"], "--amount", "5.00", "--json")
    assert refund.exit_code == 0, refund
    void = mpos("void", other["id"], "--json")
    assert void.exit_code == 0, void
    sent = [json.loads(line) for line in (tmp_path / "refunds.jsonl").read_text().splitlines()]
    assert sent == [refund.json(), void.json()]
    assert [s["type"] for s in sent] == ["refund", "void"]

    dry = mpos("settle", "--dry-run", "--json")
    assert dry.exit_code == 0 and not (tmp_path / "settle.json").exists()  # nothing settled, no hook
    settled = mpos("settle", "--json")
    assert settled.exit_code == 0, settled
    assert json.loads((tmp_path / "settle.json").read_text()) == settled.json()


def test_a_hook_that_is_not_executable_is_skipped_with_a_notice(mpos, hook, tmp_path):
    hook("pre-charge", "exit 1", mode=0o600)
    result = mpos("charge", "4.00", "--json")
    assert result.exit_code == 0, result
    assert "is not executable and was skipped (chmod +x it to use it)" in result.stderr


def test_a_hook_that_cannot_start_refuses_a_sale(mpos, hook, isolated_home):
    path = hook("pre-charge", "")
    path.write_text("this is not a program\n")  # no #! line: exec fails
    result = mpos("charge", "4.00")
    assert result.exit_code == 2, result
    assert "refused by the pre-charge hook: it could not be started (Exec format error)" in result.stderr
    assert journal_records(isolated_home) == 0


def test_ctrl_c_during_a_post_hook_stops_the_hook_not_the_sale(hook, isolated_home, tmp_path):
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    started = tmp_path / "started"
    hook("post-charge", f'touch "{started}"; sleep 30')
    proc = subprocess.Popen([sys.executable, "-m", "mpos_cli", "charge", "11.00", "--json"], cwd=REPO,
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert started.exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err  # the payment's own outcome, not 130
    assert json.loads(out)["status"] == "approved"
    assert "warning: hook post-charge was interrupted and stopped; the payment is unaffected" in err


def test_pre_charge_sees_the_items_from_the_catalogue(mpos, hook, tmp_path):
    assert mpos("items", "add", "Espresso", "2.40").exit_code == 0
    assert mpos("items", "add", "Croissant", "1.80").exit_code == 0
    seen = tmp_path / "request.json"
    hook("pre-charge", f'cat > "{seen}"')
    result = mpos("charge", "--item", "Espresso*2", "--item", "Croissant", "--json")
    assert result.exit_code == 0, result
    request = json.loads(seen.read_text())
    assert request["items"] == [{"name": "Espresso", "quantity": 2, "unit_minor": 240},
                                {"name": "Croissant", "quantity": 1, "unit_minor": 180}]
    assert request["amount_minor"] == 660
    assert [(i["name"], i["quantity"], i["unit_minor"]) for i in result.json()["items"]] == \
        [(i["name"], i["quantity"], i["unit_minor"]) for i in request["items"]]
