"""SIGKILL ``mpos charge`` at random moments, many times, against ``mpos
sandbox serve`` running as its own process; then ``mpos recover``; then the
journal and ``mpos sandbox ledger --json`` must agree:

- every journal sale that is approved is approved at the acquirer, once;
- every approval the acquirer holds is approved in the journal or reversed;
- nothing is left pending after ``mpos recover``.

Four workers charge at the same time on one home, so a payment in flight in
one process is also exposed to the start-of-command recovery of the others
(the ``InFlight`` claims must keep them apart).

``MPOS_KILL_SEED`` replays a run; ``MPOS_KILL_COUNT`` changes how many
kills land (default 60 against the sandbox).

The same harness runs against the fakes of Cybersource and Authorize.Net
(tests/fakes/running.py, on loopback in this process): a small share of kills
each in the normal suite (``MPOS_KILL_COUNT_FAKES``, default 8); the full
count (marked slow, about a minute each on two busy cores) runs only when
``MPOS_KILL_COUNT`` is set: ``MPOS_KILL_COUNT=60 pytest -m slow
tests/faults/test_kill_harness.py``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.agreement import disagreements, journal_transactions, open_transactions
from tests.helpers.sandbox import KEY
from tests.helpers.fault_proxy import FaultProxy

REPO = Path(__file__).resolve().parents[2]
WORKERS = 4
# Read when the module is collected: the autouse ``isolated_home`` fixture
# clears every MPOS_* variable before a test's body runs.
KILL_COUNT = int(os.environ.get("MPOS_KILL_COUNT") or 0)
KILL_COUNT_FAKES = int(os.environ.get("MPOS_KILL_COUNT_FAKES") or 8)
GIVEN_SEED = os.environ.get("MPOS_KILL_SEED")


def _amount(rng: random.Random) -> str:
    cents = rng.choice(["00", "10", "25", "40", "50", "75", "99", "05", "51"])  # .05/.51: declines
    return f"{rng.randint(1, 60)}.{cents}"


def test_sigkill_charge_at_random_moments_then_recover(served_sandbox, isolated_home):
    ledger = lambda run: _ledger(run)  # noqa: E731 -- the sandbox's own view, through the CLI
    _harness(served_sandbox.url, lambda base: {"MPOS_GATEWAY_URL": base, "MPOS_GATEWAY_KEY": KEY}, ledger,
             isolated_home, wanted=KILL_COUNT or 60, classify=None)


@pytest.mark.parametrize("name", ["cybersource", "authorizenet"])
def test_sigkill_charge_then_recover_against_each_fake(name, isolated_home, tmp_path):
    _against_fake(name, isolated_home, tmp_path, KILL_COUNT_FAKES)


@pytest.mark.slow
@pytest.mark.skipif(not KILL_COUNT, reason="the long kill run against the fakes: set MPOS_KILL_COUNT (e.g. 60)")
@pytest.mark.parametrize("name", ["cybersource", "authorizenet"])
def test_sigkill_charge_then_recover_against_each_fake_in_full(name, isolated_home, tmp_path):
    _against_fake(name, isolated_home, tmp_path, KILL_COUNT)


def _against_fake(name, isolated_home, tmp_path, wanted: int) -> None:
    from tests.fakes.running import start

    acquirer = start(name, tmp_path / "acquirer")
    try:
        _harness(acquirer.base_url, acquirer.env, lambda run: acquirer.ledger(), isolated_home, wanted=wanted,
                 classify=acquirer.classify)
    finally:
        acquirer.stop()


def _harness(url, env_for, ledger_of, isolated_home, *, wanted: int, classify) -> None:
    seed = int(GIVEN_SEED) if GIVEN_SEED else random.SystemRandom().randrange(1 << 30)
    # A mobile network: the acquirer's answers take 0-0.3 s on the way back
    # (a pass-through proxy, no fault), so kills land while an answer is out.
    jitter = random.Random(seed ^ 0x5EED)
    proxy = FaultProxy(url)
    if classify is not None:
        proxy.classify = classify
    proxy.fail("/v1/authorisations", "slow", times=None, delay=lambda: jitter.uniform(0.0, 0.3))
    env = dict(os.environ, **env_for(proxy.url), MPOS_GATEWAY_TIMEOUT="5")

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mpos_cli", *args], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)

    # How long an untouched charge takes here: kills are spread over it.
    started = time.monotonic()
    first = run("charge", "10.00", "--json", "--no-receipt")
    assert first.returncode == 0, first.stderr
    duration = time.monotonic() - started

    lock = threading.Lock()
    stats: Counter = Counter()
    took: list[float] = [duration * 2.0]  # runs are slower with four at once; learnt as they finish
    rng_main = random.Random(seed)

    def worker(rng: random.Random) -> None:
        while True:
            with lock:
                if stats["kills"] >= wanted or stats["launched"] >= wanted * 10:
                    return
                stats["launched"] += 1
                number = stats["launched"]
                typical = sorted(took)[len(took) // 2]
            note = f"kill-{number}"
            began = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "mpos_cli", "charge", _amount(rng), "--json", "--no-receipt", "--note", note],
                env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            # A quarter of the kills anywhere in the run, the rest late in it
            # (after the imports: the card, the network, the journal writes).
            # ``typical`` is learnt from the runs that finished, so it leans
            # short: the late window ends before it, or most kills would miss.
            if rng.random() < 0.25:
                delay = rng.uniform(0.0, typical * 1.1)
            else:
                delay = rng.uniform(typical * 0.6, typical * 0.98)
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                with lock:
                    stats["kills"] += 1
                    killed.add(note)
            else:
                with lock:
                    took.append(time.monotonic() - began)
                    stats[f"finished (exit {proc.returncode})"] += 1

    killed: set[str] = set()
    threads = [threading.Thread(target=worker, args=(random.Random(rng_main.random()),)) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    before = journal_transactions(isolated_home)
    left_open = [tx for tx in before if tx.status == "pending" or str(tx.stage) not in ("done", "stored")]
    stats["open before recover"] = len(left_open)
    stats["open and held by the acquirer"] = sum(
        1 for tx in left_open if any(e["reference"] == tx.id for e in ledger_of(run))
    )

    proxy.close()
    env.update(env_for(url))  # recover and the ledger straight at the acquirer
    recovered = run("recover", "--json")
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout and '"still_open": []' in recovered.stdout
    assert open_transactions(isolated_home) == []

    transactions = journal_transactions(isolated_home)
    ledger = ledger_of(run)
    problems = disagreements(transactions, ledger)
    outcome = Counter(tx.status for tx in transactions if tx.type == "sale")
    by_note = {tx.note: tx for tx in transactions if tx.note}
    landed: Counter = Counter()
    for note in killed:
        tx = by_note.get(note)
        landed[_moment(tx)] += 1
    at_acquirer = Counter(entry["status"] for entry in ledger)
    report = (
        f"seed={seed} duration={duration:.2f}s {dict(stats)}\nkills landed: {dict(landed)}\n"
        f"journal={ {str(k): v for k, v in outcome.items()} } acquirer={dict(at_acquirer)}"
    )
    print(report)
    assert stats["kills"] >= min(wanted, 40), report
    assert problems == [], f"{problems}\n{report}"
    # Every approval in the journal is one live approval at the acquirer.
    approved = [tx.id for tx in transactions if tx.type == "sale" and tx.status == "approved"]
    live = {e["reference"] for e in ledger if e["status"] == "approved"}
    assert set(approved) == live, report


def _ledger(run) -> list[dict]:
    import json

    result = run("sandbox", "ledger", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _moment(tx) -> str:
    """Where a killed charge stood, told by how it was finally resolved."""
    if tx is None:
        return "before the intent was journaled"
    message = tx.message or ""
    if "before the card was read" in message:
        return "intent journaled, card not read"
    if "never received" in message:
        return "sent stage journaled, request never arrived"
    if "after the acquirer approved" in message:
        return "acquirer approved, kill before the card confirmed: reversed"
    if tx.status == "approved":
        return "after the approval was journaled"
    return f"{tx.status}: {message[:60]}"
