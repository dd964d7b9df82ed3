"""A journal writer run as its own process by test_journal_processes.py.

    python journal_child.py loop DIR          add/update/bulk/compact forever,
                                              printing each acknowledged change
    python journal_child.py burst DIR N GO    wait for file GO, then N x (add, update)

Each line printed is flushed after the call returned: the parent knows
exactly what was acknowledged when it kills us.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from journal_faults import sale  # noqa: E402

from mpos_cli.journal import Journal  # noqa: E402
from mpos_cli.transaction import Stage, TxStatus  # noqa: E402


def say(*words: str) -> None:
    sys.stdout.write(" ".join(words) + "\n")
    sys.stdout.flush()


def loop(directory: Path) -> None:
    journal = Journal(directory, lock_timeout=30)
    say("READY")
    i = 0
    while True:
        i += 1
        date = "2026-11-24" if i % 5 else "2026-10-31"
        tx = sale(date)
        journal.add(tx)
        say("ADD", tx.id)
        journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        say("APPROVED", tx.id)
        if i % 7 == 0:
            batch = [sale("2026-11-23", status=TxStatus.APPROVED, stage=Stage.DONE) for _ in range(20)]
            journal.add_many(batch)
            say("ADD", *[t.id for t in batch])
        if i % 25 == 0:
            journal.compact("2026-11")
            say("COMPACTED")
        if i % 10 == 0:
            journal.open_transactions()


def burst(directory: Path, count: int, go: Path) -> None:
    while not go.exists():
        time.sleep(0.001)
    journal = Journal(directory, lock_timeout=30)
    for _ in range(count):
        tx = sale()
        journal.add(tx)
        journal.update(tx.with_changes(stage=Stage.SENT))
        journal.open_transactions()
        journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        say("APPROVED", tx.id)
    journal.close()
    say("DONE", str(os.getpid()))


if __name__ == "__main__":
    if sys.argv[1] == "loop":
        loop(Path(sys.argv[2]))
    else:
        burst(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
