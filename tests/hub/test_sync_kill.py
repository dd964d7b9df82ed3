"""SIGKILL ``mpos sync`` at random moments, then sync again: the hub must end
up identical to a clean sync of the same journals into an empty hub, and the
terminal's copy must hold exactly the other terminal's journal.

Terminal A has a backlog of thousands of seeded sales plus real sales,
refunds and voids (several versions each); terminal B's own transactions
are at the hub already, so a killed sync dies while pushing or while
pulling. Whenever a sync finishes before its kill, the backlog grows again
(A or B seeds more), so kills keep landing in the middle of the work.

The normal suite lands ``QUICK_KILLS`` (about 20 s); the long version
(marked slow) lands ``MPOS_SYNC_KILLS`` kills and runs only when that is
set (48 kills take about four minutes on two busy cores):
``MPOS_SYNC_KILLS=48 pytest -m slow tests/hub/test_sync_kill.py``.
``MPOS_SYNC_KILL_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests.hub.conftest import REPO

QUICK_KILLS = 12
NO_HUB = {"MPOS_HUB_URL": ""}


def hub_state(url: str) -> tuple[dict, dict]:
    """What a hub holds, less what depends on timing: (rows, terminals)."""
    with psycopg.connect(url) as conn:
        rows = {
            (terminal_id, tx_id): (version, record)
            for terminal_id, tx_id, version, record in conn.execute(
                "SELECT terminal_id, id, version, record FROM mpos_hub.transactions")
        }
        terminals = dict(conn.execute("SELECT terminal_id, cursor FROM mpos_hub.terminals"))
    return rows, terminals


def copy_of(home) -> dict:
    from mpos_cli.hub.copy import LocalCopy

    with LocalCopy(home / "hub" / "copy.sqlite", read_only=True) as copy:
        return {(tx.terminal_id, tx.id): (tx.version, tx.to_public()) for tx in copy.iter()}


def journal_of(term) -> dict:
    from mpos_cli.transaction import Transaction

    return {(term.terminal_id, tx_id): (record["version"], Transaction.from_record(record).to_public())
            for tx_id, record in term.journal_records().items()}


def run_harness(postgres, terminal, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    killed_hub = postgres.new_database()
    a, b = terminal("KILL-A", url=killed_hub), terminal("KILL-B", url=killed_hub)

    # B's transactions are at the hub; A has a backlog of many versions.
    b.ok("sandbox", "seed", "--count", "1200", "--days", "40")
    b.ok("sync", "--json")
    a.ok("sandbox", "seed", "--count", "3500", "--days", "60")
    for _ in range(3):
        sale = a("charge", "25.00", "--json", env=NO_HUB).json()
        assert a("refund", sale["id"], "--amount", "5", "--json", env=NO_HUB).exit_code == 0
        voided = a("charge", "7.00", "--json", env=NO_HUB).json()
        assert a("void", voided["id"], "--json", env=NO_HUB).exit_code == 0

    # How long a whole sync of this backlog takes, as a process: kills are spread over it.
    started = time.monotonic()
    assert a.process("sync", env={"MPOS_HUB_URL": postgres.new_database()}).returncode == 0
    whole = time.monotonic() - started

    environ = {**os.environ, **a.env}
    stats = {"kills": 0, "finished": 0, "grown": 0}
    launched = 0
    while stats["kills"] < kills and launched < kills * 4:
        launched += 1
        proc = subprocess.Popen([sys.executable, "-m", "mpos_cli", "sync", "--json"], env=environ, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, whole))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stats["kills"] += 1
        else:
            assert proc.returncode == 0, proc.stderr.read()
            stats["finished"] += 1
            # The work ran out before the kill: give the next sync more to do.
            stats["grown"] += 1
            if rng.random() < 0.7:
                a.ok("sandbox", "seed", "--count", str(rng.randrange(600, 1800)), "--days", "90")
            else:
                b.ok("sandbox", "seed", "--count", str(rng.randrange(600, 1800)), "--days", "90")
                b.ok("sync", "--json")
        proc.stderr.close()
    assert stats["kills"] == kills, stats

    final = a.process("sync", "--json")
    assert final.returncode == 0, final.stderr

    # A clean sync of the same two journals into an empty hub.
    clean_hub = postgres.new_database()
    for term in (b, a):
        assert term.process("sync", env={"MPOS_HUB_URL": clean_hub}).returncode == 0
    killed_rows, killed_terminals = hub_state(killed_hub)
    clean_rows, clean_terminals = hub_state(clean_hub)
    assert len(killed_rows) == len(journal_of(a)) + len(journal_of(b))
    assert killed_rows == clean_rows
    assert killed_terminals == clean_terminals  # the same acknowledged journal positions
    # A's copy of B (it was last synced with the clean hub: a new copy, pulled whole).
    assert copy_of(a.home) == journal_of(b)
    assert a.process("sync", env={"MPOS_HUB_URL": killed_hub}).returncode == 0
    assert copy_of(a.home) == journal_of(b)
    return stats


# Read when the module is collected: the autouse ``isolated_home`` fixture
# clears every MPOS_* variable before a test's body runs.
LONG_KILLS = int(os.environ.get("MPOS_SYNC_KILLS") or 0)
GIVEN_SEED = os.environ.get("MPOS_SYNC_KILL_SEED")


def _seed() -> int:
    seed = int(GIVEN_SEED) if GIVEN_SEED else random.SystemRandom().randrange(1 << 30)
    print(f"MPOS_SYNC_KILL_SEED={seed}")
    return seed


def test_sync_killed_at_random_moments_resumes_to_the_same_hub(postgres, terminal):
    print(run_harness(postgres, terminal, QUICK_KILLS, _seed()))


@pytest.mark.slow
@pytest.mark.skipif(not LONG_KILLS, reason="the long kill run: set MPOS_SYNC_KILLS (e.g. 48)")
def test_sync_killed_dozens_of_times(postgres, terminal):
    stats = run_harness(postgres, terminal, LONG_KILLS, _seed())
    print(stats)
