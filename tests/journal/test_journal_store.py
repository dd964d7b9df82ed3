"""The journal's public behaviour: add, update, get, iter, open transactions,
add_many, locking, file modes, and the tinydb storage underneath."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import stat

import pytest
from journal_faults import CountingOps, follow_up, sale
from tinydb import Query

from mpos_cli.errors import ExitStatus, JournalLocked, UsageError
from mpos_cli.journal import DuplicateTransaction, Journal, locate
from mpos_cli.journal.storage import MonthStorage
from mpos_cli.transaction import InvalidTransition, Stage, TxStatus, TxType


def test_add_update_get_roundtrip(jdir):
    with Journal(jdir) as journal:
        tx = sale()
        journal.add(tx)
        assert journal.get(tx.id) == tx
        done = tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE, auth_code="A1B2C3")
        journal.update(done)
        assert journal.get(tx.id) == done
    with Journal(jdir) as again:
        assert again.get(tx.id) == done
        assert again.find("20261124-ZZZZZZ") is None


def test_unknown_and_malformed_ids(jdir):
    with Journal(jdir) as journal:
        with pytest.raises(UsageError) as info:
            journal.get("20261124-K3Q9FX")
        assert info.value.exit_status == ExitStatus.USAGE
        for bad in ("", "nonsense", "20261324-K3Q9FX", "20261124-K3Q9FI", "20261124-k3q9fx"):
            assert journal.find(bad) is None
        assert not any(n.endswith(".log") for n in os.listdir(jdir)), "a read must not create partitions"


def test_update_refuses_transitions_not_in_the_table(jdir):
    with Journal(jdir) as journal:
        tx = sale()
        journal.add(tx)
        declined = tx.moved_to(TxStatus.DECLINED, stage=Stage.DONE)
        journal.update(declined)
        # A stale copy (still pending) must not take the journal back to approved.
        with pytest.raises(InvalidTransition, match="declined → approved"):
            journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        assert journal.get(tx.id).status == TxStatus.DECLINED
        with pytest.raises(UsageError):
            journal.update(sale())


def test_update_checks_the_stored_state_written_by_another_journal(jdir):
    first, second = Journal(jdir), Journal(jdir)
    tx = sale()
    first.add(tx)
    assert second.get(tx.id).status == TxStatus.PENDING
    first.update(tx.moved_to(TxStatus.CANCELLED, stage=Stage.DONE))
    with pytest.raises(InvalidTransition):
        second.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
    assert second.get(tx.id).status == TxStatus.CANCELLED
    first.close()
    second.close()


def test_duplicate_add_is_refused(jdir):
    with Journal(jdir) as journal:
        tx = sale()
        journal.add(tx)
        with pytest.raises(DuplicateTransaction):
            journal.add(tx)
        with pytest.raises(DuplicateTransaction):
            journal.add_many([sale(), tx])
        assert len(list(journal.iter())) == 1


def test_id_must_be_a_transaction_id_of_its_business_date(jdir):
    with Journal(jdir) as journal:
        with pytest.raises(ValueError):
            journal.add(sale().with_changes(id="T-1"))
        with pytest.raises(ValueError):
            journal.add(sale().with_changes(business_date="2026-11-25"))


def test_locate_is_one_to_one_within_a_month():
    assert locate("20261124-000000") == ("2026-11", 24 << 30)
    assert locate("20261124-ZZZZZZ") == ("2026-11", (24 << 30) | (2**30 - 1))
    assert locate("20261125-000000")[1] != locate("20261124-ZZZZZZ")[1]


def test_iter_filters_and_reads_only_the_months_in_range(tmp_path):
    ops = CountingOps()
    jdir = tmp_path / "journal"
    with Journal(jdir, ops=ops) as journal:
        txs = [sale(d) for d in ("2026-09-30", "2026-10-01", "2026-10-31", "2026-11-01")]
        for tx in txs:
            journal.add(tx)
        journal.update(txs[1].moved_to(TxStatus.APPROVED, stage=Stage.DONE))
    with Journal(jdir, ops=ops) as journal:
        ops.reset()
        october = list(journal.iter("2026-10-01", "2026-10-31"))
        assert [t.id for t in october] == [txs[1].id, txs[2].id]
        assert {name for name, _, _ in ops.reads} == {"2026-10.000001.log", "2026-10.mark"}
        assert [t.id for t in journal.iter(date_from="2026-10-02")] == [txs[2].id, txs[3].id]
        assert [t.id for t in journal.iter(status="approved")] == [txs[1].id]
        assert [t.id for t in journal.iter(status=[TxStatus.APPROVED, "pending"], date_to="2026-09-30")] == [txs[0].id]
        assert [t.id for t in journal.iter(where=Query().business_date == "2026-11-01")] == [txs[3].id]
        ops.reset()
        assert journal.get(txs[3].id) == txs[3]
        assert {name for name, _, _ in ops.reads} == {"2026-11.000001.log", "2026-11.mark"}


def test_open_transactions_reads_only_new_tails(tmp_path):
    ops = CountingOps()
    jdir = tmp_path / "journal"
    with Journal(jdir, ops=ops) as journal:
        pending = sale("2026-01-15")
        offline = sale("2026-02-15", status=TxStatus.OFFLINE, stage=Stage.STORED)
        reversal = sale("2026-03-15", stage=Stage.REVERSAL_DUE)
        journal.add_many([pending, offline, reversal] + [sale("2026-02-16", status=TxStatus.APPROVED, stage=Stage.DONE) for _ in range(50)])
        assert {t.id for t in journal.open_transactions()} == {pending.id, offline.id, reversal.id}

        ops.reset()
        assert {t.id for t in journal.open_transactions()} == {pending.id, offline.id, reversal.id}
        assert ops.reads == [("open.idx", 0, None)], "nothing new: only the index is read"

        journal.update(pending.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        newcomer = sale("2026-11-24")
        journal.add(newcomer)
        ops.reset()
        assert {t.id for t in journal.open_transactions()} == {offline.id, reversal.id, newcomer.id}
        assert all(start > 0 for name, start, _ in ops.reads if name == "2026-01.000001.log")
        assert not any(name.startswith(("2026-02", "2026-03")) for name, _, _ in ops.reads)

    # A damaged index is rebuilt, never trusted.
    (jdir / "open.idx").write_bytes(b"garbage\n")
    with Journal(jdir) as journal:
        assert {t.id for t in journal.open_transactions()} == {offline.id, reversal.id, newcomer.id}


def test_open_transactions_survive_compaction(jdir):
    with Journal(jdir) as journal:
        a, b = sale(), sale()
        journal.add(a)
        journal.add(b)
        assert {t.id for t in journal.open_transactions()} == {a.id, b.id}
        journal.update(a.moved_to(TxStatus.FAILED, stage=Stage.DONE))
        assert journal.compact() == ["2026-11"]
        assert [t.id for t in journal.open_transactions()] == [b.id]
        journal.update(b.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        assert journal.open_transactions() == []
        assert journal.verify().clean


def test_add_many_is_one_append_and_fsync_per_month(tmp_path):
    ops = CountingOps()
    jdir = tmp_path / "journal"
    with Journal(jdir, ops=ops) as journal:
        journal.add(sale("2026-10-01"))
        journal.add(sale("2026-11-01"))
        ops.reset()
        txs = [sale(f"2026-{m:02d}-{d:02d}", status=TxStatus.APPROVED, stage=Stage.DONE) for m in (10, 11) for d in range(1, 29)]
        assert journal.add_many(txs) == len(txs)
        assert ops.calls["fsync"] == 2  # the open index is a cache, written without fsync
    for month in ("2026-10", "2026-11"):
        assert len((jdir / f"{month}.000001.log").read_bytes().splitlines()) == 3  # header, add, the batch
    with Journal(jdir) as journal:
        assert len(list(journal.iter())) == len(txs) + 2
        assert journal.verify().clean


def test_every_file_is_private(jdir):
    with Journal(jdir) as journal:
        tx = sale()
        journal.add(tx)
        journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        journal.open_transactions()
        with open(jdir / "2026-11.000001.log", "ab") as fh:
            fh.write(b"0badc0de {torn")  # a torn tail, kept aside by compaction
        journal.add(sale())
        journal.compact()
    assert (jdir / "torn").is_dir()
    for root, dirs, files in os.walk(jdir):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o600, name


def test_a_held_lock_times_out_with_exit_8_and_writes_nothing(jdir):
    with Journal(jdir) as journal:
        tx = sale()
        journal.add(tx)
    before = (jdir / "2026-11.000001.log").read_bytes()
    holder = os.open(jdir / "LOCK", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    os.pwrite(holder, b"pid 4242 (mpos settle)".ljust(79) + b"\n", 0)
    try:
        with Journal(jdir, lock_timeout=0.2) as journal:
            with pytest.raises(JournalLocked) as info:
                journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
            assert info.value.exit_status == ExitStatus.STATE_UNREADABLE
            line = info.value.one_line()
            assert "pid 4242 (mpos settle)" in line and "0.2 s" in line and "journal.lock_timeout" in line
            # Reading needs no lock.
            assert journal.get(tx.id).status == TxStatus.PENDING
    finally:
        os.close(holder)
    assert (jdir / "2026-11.000001.log").read_bytes() == before
    with Journal(jdir, lock_timeout=0.2) as journal:
        journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))


def test_stock_tinydb_table_on_our_storage_appends_only_the_change(tmp_path):
    """MonthStorage is a real tinydb Storage: read()/write() work with tinydb's
    own Table, and write() appends only the documents that changed."""
    from tinydb import TinyDB

    from mpos_cli.journal.fileops import FileOps
    from mpos_cli.journal.lock import JournalLock

    ops = FileOps()
    tmp_path.joinpath("j").mkdir()
    lock = JournalLock(tmp_path / "j" / "LOCK", 1.0, ops)
    db = TinyDB(tmp_path / "j", "2026-11", storage=MonthStorage, ops=ops, lock=lock)
    table = db.table("notes")
    ids = table.insert_multiple({"n": i} for i in range(100))
    table.update({"n": -1}, doc_ids=[ids[5]])
    table.remove(doc_ids=[ids[7]])
    db.close()
    path = tmp_path / "j" / "2026-11.000001.log"
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4  # header, insert_multiple, update, remove
    assert len(lines[2]) < 120 and b'"put":{"6":{"n":-1}}' in lines[2]
    assert b'"del":["8"]' in lines[3]
    again = TinyDB(tmp_path / "j", "2026-11", storage=MonthStorage, ops=ops, lock=lock).table("notes")
    assert len(again) == 99
    assert again.search(Query().n == -1)[0].doc_id == ids[5]
    lock.close()


def test_refund_and_void_follow_ups_verify_clean(jdir):
    with Journal(jdir) as journal:
        a = sale(status=TxStatus.APPROVED, stage=Stage.DONE)
        b = sale(status=TxStatus.APPROVED, stage=Stage.DONE)
        journal.add_many([a, b])
        refund = follow_up(a, TxType.REFUND, 300)
        journal.add(refund)
        journal.update(a.moved_to(TxStatus.PARTIALLY_REFUNDED, refunded_minor=300))
        journal.update(refund.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        void = follow_up(b, TxType.VOID, b.total_minor)
        journal.add(void)
        journal.update(b.moved_to(TxStatus.VOIDED))
        journal.update(void.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        report = journal.verify()
    assert report.clean, report.problems
    assert report.records == 4 and report.partitions == 1 and report.open == 0
    assert report.totals["EUR"] == {
        "sales_count": 1, "sales_minor": a.total_minor, "refunds_count": 1, "refunds_minor": 300,
        "net_minor": a.total_minor - 300,
    }


def test_fast_encoding_and_decoding_match_to_record_and_from_record():
    from mpos_cli.journal.store import FAST_CODEC, decode_transaction, encode_transaction
    from mpos_cli.transaction import Card, LineItem, Transaction

    assert FAST_CODEC, "Transaction is a plain dataclass: the fast path should be on"
    card = Card("visa", "476173******0010", "chip", "online_pin", aid="A0000000031010", expiry="2912")
    samples = [
        sale(),
        sale(status=TxStatus.APPROVED, stage=Stage.DONE, card=card, emv_out={"95": "00"}, auth_code="X1"),
        follow_up(sale(), TxType.REFUND, 5, note="änderung ✓"),
        sale(items=(LineItem("Yoga class", 1, 1200, 2000), LineItem("Mat", 2, 300))),
    ]
    records = [tx.to_record() for tx in samples]
    for tx, record in zip(samples, records):
        fast = encode_transaction(tx)
        assert fast == record and list(fast) == list(record)
        assert all(type(fast[k]) is type(record[k]) for k in record)
        assert fast["emv_out"] is not tx.emv_out, "a copy, never the transaction's own dict"
    no_stage = dict(records[0])
    del no_stage["stage"]
    extra = dict(records[1], future_field=1)
    extra_card = dict(records[1], card=dict(records[1]["card"], future=2))
    no_updated = dict(records[0], updated_at=None)
    before_items = {k: v for k, v in records[0].items() if k != "items"}  # a record written before items existed
    for record in records + [no_stage, extra, no_updated, before_items]:
        fast, slow = decode_transaction(record), Transaction.from_record(record)
        assert fast == slow and repr(fast) == repr(slow)
        assert type(fast.status) is TxStatus and type(fast.created_at) is type(slow.created_at)
        assert hash(fast.id) == hash(slow.id)
    for broken in (dict(records[0], status="lost"), {k: v for k, v in records[0].items() if k != "id"}, extra_card):
        with pytest.raises((ValueError, TypeError, KeyError)) as slow_error:
            Transaction.from_record(broken)
        with pytest.raises(slow_error.type):
            decode_transaction(broken)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decode_transaction(records[0]).status = TxStatus.FAILED


def test_close_compacts_a_month_of_mostly_old_versions(jdir, monkeypatch):
    original = MonthStorage.bloated
    monkeypatch.setattr(MonthStorage, "bloated", lambda self, minimum=4096: original(self, minimum=10))
    with Journal(jdir) as journal:
        txs = [sale() for _ in range(4)]
        for tx in txs:
            journal.add(tx)
            journal.update(tx.with_changes(stage=Stage.SENT))
        assert not journal._parts["2026-11"].storage.bloated()
        for tx in txs:
            journal.update(tx.with_changes(stage=Stage.AUTHORISED))
            journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        assert journal._parts["2026-11"].storage.bloated()
    assert sorted(n for n in os.listdir(jdir) if n.endswith(".log")) == ["2026-11.000002.log"]
    with Journal(jdir) as journal:
        assert all(journal.get(tx.id).status == TxStatus.APPROVED for tx in txs)
        assert journal.verify().versions == 4
