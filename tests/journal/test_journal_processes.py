"""Real processes: SIGKILL at random moments, and four writers at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from mpos_cli.journal import Journal
from mpos_cli.transaction import TxStatus

CHILD = str(Path(__file__).resolve().parent / "journal_child.py")


def test_sigkill_at_random_moments_loses_nothing_acknowledged(jdir):
    rng = random.Random(os.getpid())
    added: set[str] = set()
    approved: set[str] = set()
    kills = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, CHILD, "loop", str(jdir)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        kills += child.returncode == -signal.SIGKILL
        for line in out.splitlines():
            word, *ids = line.split()
            if word == "ADD":
                added.update(ids)
            elif word == "APPROVED":
                approved.update(ids)
        with Journal(jdir) as journal:
            report = journal.verify()
            assert report.clean, report.problems
    assert kills == 6 and len(approved) > 10
    with Journal(jdir) as journal:
        for tx_id in added:
            assert journal.find(tx_id) is not None, f"acknowledged {tx_id} is missing"
        for tx_id in approved:
            assert journal.get(tx_id).status == TxStatus.APPROVED
        ids = [tx.id for tx in journal.iter()]
        assert len(ids) == len(set(ids)) and set(ids) >= added
        assert {tx.id for tx in journal.open_transactions()} <= set(ids) - approved


def test_four_processes_writing_at_once(jdir):
    jdir.mkdir(parents=True)
    go = jdir.parent / "go"
    children = [
        subprocess.Popen([sys.executable, CHILD, "burst", str(jdir), "10", str(go)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    time.sleep(0.3)  # let all four import and wait at the line
    go.touch()
    approved = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        approved += [line.split()[1] for line in out.splitlines() if line.startswith("APPROVED")]
    assert len(approved) == 40 and len(set(approved)) == 40
    with Journal(jdir) as journal:
        entries = list(journal.iter())
        assert sorted(tx.id for tx in entries) == sorted(approved)
        assert all(tx.status == TxStatus.APPROVED for tx in entries)
        assert journal.open_transactions() == []
        report = journal.verify()
    assert report.clean, report.problems
    assert report.records == 40 and report.versions == 120
