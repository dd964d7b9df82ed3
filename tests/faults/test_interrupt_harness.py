"""Ctrl-C at random moments of many ``mpos charge`` runs on a pseudo-terminal,
against ``mpos sandbox serve`` running as its own process (SPEC §9).

Each run has a pseudo-terminal as its controlling terminal (stdin and
stderr, so the live status line is drawn as for a person); the harness
types Ctrl-C (``\\x03``) into it at a random moment, sometimes twice, and
the terminal's line discipline sends SIGINT to the process, as a keyboard
would. stdout is a pipe carrying the ``--json`` result. The acquirer is
slow on purpose at times (totals ending .98 are held ``HOLD`` seconds), the
simulated customer takes a random while to tap and to type a PIN, and some
totals are declined.

In every run, what was printed and the exit code must agree with the
journal and the acquirer's ledger:

- exit 0: printed approved, approved in the journal, one live approval at the acquirer;
- exit 3: printed declined, declined in the journal, no live approval;
- exit 130: "nothing was charged" on the terminal; the sale is cancelled in
  the journal (or was never begun) and the acquirer never saw it;
- never a traceback; nothing left open in the journal, without any
  ``mpos recover``; every live approval at the acquirer was reported as
  approved by the run that took it.

``INTERRUPT_COUNT`` sets the number of runs of the normal suite's test (40);
the long one runs only when ``INTERRUPT_RUNS`` is set
(``INTERRUPT_RUNS=300 pytest -m slow tests/faults/test_interrupt_harness.py``);
``INTERRUPT_SEED`` replays a run.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import select
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.agreement import disagreements, journal_transactions, open_transactions
from tests.helpers.sandbox import KEY, ServedSandbox

REPO = Path(__file__).resolve().parents[2]
WORKERS = 2
HOLD = "1.0"  # seconds the acquirer sits on a total ending .98
AMOUNTS = ("12.00", "7.50", "30.25", "80.00", "3.98", "64.98", "10.05", "20.51")
CUSTOMER = ("0", "0.3", "0.8")


def _controlling_terminal() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _charge_on_a_terminal(env: dict, args: list[str], rng: random.Random, typical: float) -> dict:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpos_cli", "charge", *args], env=env, cwd=REPO,
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, start_new_session=True,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    screen = bytearray()

    def read_terminal() -> None:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the last holder of the terminal is gone
                    return
                if not chunk:
                    return
                screen.extend(chunk)
            elif proc.poll() is not None:
                return

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    # From 0.1 s: the interpreter's own first ~30 ms, before any mpos code
    # runs, are Python's (no person presses Ctrl-C that soon after Enter).
    delay = rng.uniform(0.1, typical * 1.1)
    time.sleep(delay)
    presses = 0
    if proc.poll() is None:
        os.write(master, b"\x03")
        presses = 1
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0.05, 0.6))
            if proc.poll() is None:
                os.write(master, b"\x03")
                presses = 2
    stdout, _ = proc.communicate(timeout=90)
    reader.join(timeout=5)
    os.close(master)
    return {
        "code": proc.returncode, "stdout": stdout.decode(), "screen": screen.decode("utf-8", "replace"),
        "presses": presses, "delay": delay,
    }


def _interrupt_harness(tmp_path, monkeypatch, count: int) -> str:
    monkeypatch.setenv("MPOS_SANDBOX_HOLD_SECONDS", HOLD)
    acquirer = ServedSandbox(tmp_path / "acquirer-home").start()
    home = Path(os.environ["MPOS_HOME"])
    seed = int(os.environ.get("INTERRUPT_SEED", random.SystemRandom().randrange(1 << 30)))
    env = dict(os.environ, MPOS_GATEWAY_URL=acquirer.url, MPOS_GATEWAY_KEY=KEY, MPOS_GATEWAY_TIMEOUT="5",
               TERM="xterm-256color", COLUMNS="100")
    env.pop("MPOS_SANDBOX_HOLD_SECONDS")
    try:
        started = time.monotonic()
        first = subprocess.run([sys.executable, "-m", "mpos_cli", "charge", "1.00", "--json", "--no-receipt"],
                               env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        typical = max(0.5, time.monotonic() - started) * 1.6  # the slow totals and the customer take longer

        runs: list[dict] = []
        lock = threading.Lock()
        master_rng = random.Random(seed)

        def worker(rng: random.Random) -> None:
            while True:
                with lock:
                    if len(runs) >= count:
                        return
                    number = len(runs)
                    runs.append({})
                amount, customer = rng.choice(AMOUNTS), rng.choice(CUSTOMER)
                note = f"ctrl-c-{number}"
                run_env = dict(env, MPOS_SIM_CUSTOMER_SECONDS=customer)
                outcome = _charge_on_a_terminal(run_env, [amount, "--json", "--no-receipt", "--note", note],
                                                rng, typical)
                outcome.update(note=note, amount=amount, customer=customer)
                runs[number] = outcome

        threads = [threading.Thread(target=worker, args=(random.Random(master_rng.random()),)) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ledger = acquirer.ledger()
    finally:
        acquirer.stop()

    transactions = journal_transactions(home)
    by_note = {tx.note: tx for tx in transactions if tx.note}
    held = {entry["reference"]: entry for entry in ledger}
    problems: list[str] = []
    reported_approved: set[str] = set()
    tally: Counter = Counter()
    for run in runs:
        label = f"{run['note']} ({run['amount']}, Ctrl-C x{run['presses']} at {run['delay']:.2f} s, exit {run['code']})"
        tally[f"exit {run['code']}"] += 1
        tally[f"Ctrl-C pressed {run['presses']}x"] += 1
        if "finishing the payment, please wait" in run["screen"]:
            tally["finished after Ctrl-C"] += 1
        if "Traceback" in run["screen"] or "Traceback" in run["stdout"]:
            problems.append(f"{label}: a traceback: {run['screen'][-800:]!r}")
        tx = by_note.get(run["note"])
        printed = json.loads(run["stdout"]) if run["stdout"].strip() else None
        if printed is not None and (tx is None or printed["id"] != tx.id or printed["status"] != tx.status):
            problems.append(f"{label}: printed {printed['status']} for {printed['id']}, "
                            f"journal has {tx.status if tx else 'nothing'}")
        entry = held.get(tx.id) if tx else None
        live = entry is not None and entry["status"] in ("approved", "settled")
        if run["code"] == 0:
            if not (printed and printed["status"] == "approved" and tx and tx.status == "approved" and live):
                problems.append(f"{label}: exit 0 but printed {printed and printed['status']}, "
                                f"journal {tx and tx.status}, acquirer {entry and entry['status']}")
            else:
                reported_approved.add(tx.id)
        elif run["code"] == 3:
            if not (printed and printed["status"] == "declined" and tx and tx.status == "declined") or live:
                problems.append(f"{label}: exit 3 but journal {tx and tx.status}, acquirer {entry and entry['status']}")
        elif run["code"] == 130:
            if "nothing was charged" not in run["screen"]:
                problems.append(f"{label}: exit 130 without 'nothing was charged': {run['screen'][-300:]!r}")
            if tx is not None and (tx.status != "cancelled" or entry is not None):
                problems.append(f"{label}: exit 130 but journal {tx.status}, acquirer {entry and entry['status']}")
            if run["presses"] == 0:
                problems.append(f"{label}: exit 130 with no Ctrl-C")
        else:
            problems.append(f"{label}: unexpected exit: {run['screen'][-400:]!r}")
    for entry in ledger:
        if entry["type"] == "sale" and entry["status"] in ("approved", "settled") and entry["reference"] != first_id(first):
            if entry["reference"] not in reported_approved:
                problems.append(f"the acquirer approved {entry['reference']}, which no run reported as approved")
    still_open = [tx.id for tx in open_transactions(home)]
    if still_open:
        problems.append(f"left open without mpos recover: {still_open}")
    problems += disagreements(transactions, ledger)
    report = f"seed={seed} runs={len(runs)} typical={typical:.2f}s {dict(sorted(tally.items()))}"
    print(report)
    assert len(runs) == count
    assert problems == [], "\n".join(problems) + "\n" + report
    return report


def first_id(first: subprocess.CompletedProcess) -> str:
    return json.loads(first.stdout)["id"]


def test_ctrl_c_at_random_moments_of_charge(tmp_path, monkeypatch):
    _interrupt_harness(tmp_path, monkeypatch, int(os.environ.get("INTERRUPT_COUNT", "40")))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("INTERRUPT_RUNS"), reason="the long run: set INTERRUPT_RUNS (e.g. 300)")
def test_ctrl_c_at_random_moments_of_charge_hundreds_of_times(tmp_path, monkeypatch):
    _interrupt_harness(tmp_path, monkeypatch, int(os.environ["INTERRUPT_RUNS"]))
