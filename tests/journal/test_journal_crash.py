"""Crash tests in the style of SQLite's: a scripted run of adds, updates,
bulk adds, compactions and index refreshes, with a fault injected at the
Nth mutating file operation (write, fsync, rename, unlink, folder fsync,
file creation), for every N until the script runs through.

After each fault a fresh Journal must load the last acknowledged state:
every call that returned is there; the one in flight is either fully there
or absent (a bulk add: all of a month's batch or none of it); verify is
clean; and the journal takes new writes. Whatever the fault did to the
high-water marks (lost, torn, left behind by a power cut), it never makes
the journal look as if it had lost records, and the next write brings the
month's mark level with its log again.
"""

from __future__ import annotations

import pytest
from journal_faults import FaultyOps, SimulatedCrash, follow_up, sale

from mpos_cli.errors import StateUnreadable
from mpos_cli.journal import Journal, log
from mpos_cli.journal import mark as hwm
from mpos_cli.journal.index import is_open
from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType


class Run:
    """The model: what was acknowledged, and what is in flight."""

    def __init__(self) -> None:
        self.acked: dict[str, Transaction] = {}
        self.inflight: dict[str, Transaction] = {}
        self.groups: list[list[str]] = []
        self.steps = 0

    def do(self, changes: list[Transaction], call, groups: list[list[str]] | None = None) -> None:
        self.inflight = {tx.id: tx for tx in changes}
        self.groups = groups or []
        call()
        self.acked.update(self.inflight)
        self.inflight, self.groups = {}, []
        self.steps += 1


def script(journal: Journal, run: Run) -> None:
    a = sale()
    run.do([a], lambda: journal.add(a))
    a1 = a.with_changes(stage=Stage.SENT)
    run.do([a1], lambda: journal.update(a1))
    b = sale()
    run.do([b], lambda: journal.add(b))
    a2 = a1.moved_to(TxStatus.APPROVED, stage=Stage.DONE, auth_code="OK1234")
    run.do([a2], lambda: journal.update(a2))
    c = sale("2026-10-30", status=TxStatus.APPROVED, stage=Stage.DONE)
    d = sale("2026-10-31", status=TxStatus.APPROVED, stage=Stage.DONE)
    e = sale("2026-11-02", status=TxStatus.APPROVED, stage=Stage.DONE)
    run.do([c, d, e], lambda: journal.add_many([c, d, e]), groups=[[c.id, d.id], [e.id]])
    run.do([], journal.open_transactions)
    b1 = b.moved_to(TxStatus.DECLINED, stage=Stage.DONE, response_code="05")
    run.do([b1], lambda: journal.update(b1))
    run.do([], lambda: journal.compact("2026-11"))
    f = sale("2026-12-01", stage=Stage.SENT)  # the authorisation could not leave: stored next
    run.do([f], lambda: journal.add(f))
    refund = follow_up(c, TxType.REFUND, 300, date="2026-11-25")
    run.do([refund], lambda: journal.add(refund))
    c1 = c.moved_to(TxStatus.PARTIALLY_REFUNDED, refunded_minor=300)
    run.do([c1], lambda: journal.update(c1))
    refund1 = refund.moved_to(TxStatus.APPROVED, stage=Stage.DONE)
    run.do([refund1], lambda: journal.update(refund1))
    f1 = f.moved_to(TxStatus.OFFLINE, stage=Stage.STORED)
    run.do([f1], lambda: journal.update(f1))
    run.do([], journal.open_transactions)
    g = sale()
    run.do([g], lambda: journal.add(g))
    run.do([], journal.compact)
    h = sale("2026-10-02", stage=Stage.REVERSAL_DUE)
    run.do([h], lambda: journal.add(h))
    g1 = g.moved_to(TxStatus.CANCELLED, stage=Stage.DONE)
    run.do([g1], lambda: journal.update(g1))
    run.do([], journal.open_transactions)


def check_recovered(jdir, run: Run, where: str) -> None:
    with Journal(jdir, lock_timeout=2) as journal:
        seen: dict[str, Transaction | None] = {}
        for tx_id in set(run.acked) | set(run.inflight):
            found = journal.find(tx_id)
            allowed = [run.acked.get(tx_id)]
            if tx_id in run.inflight:
                allowed.append(run.inflight[tx_id])
            assert found in allowed, f"{where}: {tx_id} is {found}, expected one of {allowed}"
            seen[tx_id] = found
        for group in run.groups:
            landed = {seen[tx_id] == run.inflight[tx_id] for tx_id in group}
            assert len(landed) == 1, f"{where}: a month's batch landed in part"
        report = journal.verify()
        assert report.clean, f"{where}: {report.problems}"
        expected_open = {i for i, tx in seen.items() if tx is not None and is_open(tx.to_record())}
        assert {tx.id for tx in journal.open_transactions()} == expected_open, where
        # Life goes on after the crash, torn tail or not.
        x = sale()
        journal.add(x)
        journal.update(x.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
    with Journal(jdir) as journal:
        assert journal.get(x.id).status == TxStatus.APPROVED
        for tx_id, tx in seen.items():
            assert journal.find(tx_id) == tx
        assert journal.verify().clean
    month = x.business_date[:7]
    mark = hwm.read(journal.ops, jdir, month).mark
    newest = max(n for m, n in filter(None, map(log.parse_segment_name, (p.name for p in jdir.iterdir()))) if m == month)
    assert mark is not None and mark.segment == newest, f"{where}: the mark did not catch up: {mark}"
    assert mark.end == (jdir / log.segment_name(month, newest)).stat().st_size, f"{where}: {mark}"


@pytest.mark.parametrize(
    "mode,partial",
    [("die", 0.0), ("die", 0.5), ("die", 1.0), ("error", 0.0), ("error", 0.5), ("power", 0.0), ("power", 0.5)],
    ids=[
        "die-nothing-written", "die-torn-write", "die-after-full-write", "eio", "eio-torn-write",
        "power-cut", "power-cut-torn",
    ],
)
def test_fault_at_every_file_operation(tmp_path, mode, partial):
    faults = 0
    for n in range(1, 1000):
        jdir = tmp_path / f"{n}" / "journal"
        ops = FaultyOps(n, mode=mode, partial=partial)
        journal = None
        run = Run()
        try:
            journal = Journal(jdir, ops=ops, lock_timeout=2)
            script(journal, run)
            journal.close()
        except SimulatedCrash:
            ops.kill()  # the process is gone; the kernel closes its files and drops its lock
        except (OSError, StateUnreadable):
            if journal is None:  # failed to open: said so, wrote nothing
                journal = Journal(jdir, lock_timeout=2)
            # The call failed and said so; the same journal object keeps working.
            for tx_id in set(run.acked) | set(run.inflight):
                assert journal.find(tx_id) in (run.acked.get(tx_id), run.inflight.get(tx_id))
            y = sale()
            journal.add(y)
            journal.close()
            run.acked[y.id] = y
        if not ops.fired:
            assert run.steps == 19
            break
        faults += 1
        check_recovered(jdir, run, f"{mode} at op {n} ({ops.log[-1]})")
    assert faults > 40, "the script should cross many file operations"
