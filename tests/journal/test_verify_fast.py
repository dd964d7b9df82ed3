"""``Journal.verify(fast=True)`` (mpos doctor): every storage check of the
full verify, none of the per-transaction ones."""

from __future__ import annotations

from journal_faults import sale

from mpos_cli.journal import Journal
from mpos_cli.transaction import Stage, TxStatus

SEG1 = "2026-11.000001.log"


def test_fast_verify_counts_and_finds_what_the_storage_finds(jdir):
    txs = [sale(), sale(), sale("2026-10-05")]
    with Journal(jdir) as journal:
        for tx in txs:
            journal.add(tx)
        journal.update(txs[0].moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        fast, full = journal.verify(fast=True), journal.verify()
    assert (fast.records, fast.partitions, fast.open, fast.clean) == (3, 2, 2, True)
    assert (full.records, full.partitions, full.open) == (fast.records, fast.partitions, fast.open)

    with open(jdir / SEG1, "ab") as fh:  # a torn tail: a warning for both
        fh.write(b"0badc0de {\"t\"")
    with Journal(jdir) as journal:
        report = journal.verify(fast=True)
    assert report.clean and len(report.torn_tails) == 1

    lines = (jdir / SEG1).read_bytes().splitlines(keepends=True)
    lines.insert(2, b"not a record at all\n")  # good records follow: corruption
    (jdir / SEG1).write_bytes(b"".join(lines))
    with Journal(jdir) as journal:
        report = journal.verify(fast=True)
    assert not report.clean and "corrupt" in report.problems[0]
    assert report.records == 1  # October still reads


def test_fast_verify_leaves_the_transaction_checks_to_the_full_one(jdir):
    over = sale(status=TxStatus.PARTIALLY_REFUNDED, stage=Stage.DONE, refunded_minor=99999)
    with Journal(jdir) as journal:
        journal.add(over)
        assert journal.verify(fast=True).clean
        assert any("is more than its total" in p for p in journal.verify().problems)
