"""The journal's change feed (what mpos sync pushes) and the version the
journal stamps on every write."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from mpos_cli.journal import Cursor, Journal
from mpos_cli.journal import changes as changes_mod
from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType


def sale(tx_id: str, amount: int = 1000, status=TxStatus.PENDING, stage=Stage.INTENT) -> Transaction:
    day = f"{tx_id[:4]}-{tx_id[4:6]}-{tx_id[6:8]}"
    return Transaction(
        id=tx_id, type=TxType.SALE, status=status, stage=stage, amount_minor=amount, tip_minor=0, currency="EUR",
        created_at=datetime.fromisoformat(f"{day}T10:00:00+00:00"), business_date=day, sandbox=True,
        terminal_id="T1",
    )


def drain(journal: Journal, cursor: Cursor) -> list[dict]:
    """Every document after ``cursor``; ``cursor`` moves past them."""
    documents = []
    for change in journal.changes(cursor):
        documents.extend(change.documents)
        cursor.advance(change.segment, change.position)
    return documents


def test_the_journal_counts_each_transactions_writes(tmp_path):
    with Journal(tmp_path / "j") as journal:
        tx = sale("20261124-AAAAAA")
        journal.add(tx)
        assert journal.get(tx.id).version == 1
        journal.update(tx.moved_to(TxStatus.PENDING, stage=Stage.SENT))
        journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        assert journal.get(tx.id).version == 3
        others = [sale(f"20261124-BBBBB{n}") for n in range(3)]
        journal.add_many(others)
        journal.update_many([o.moved_to(TxStatus.CANCELLED, stage=Stage.DONE) for o in others])
        assert [journal.get(o.id).version for o in others] == [2, 2, 2]
        # The version is bookkeeping, not identity: a transaction equals itself read back.
        assert journal.get(others[0].id) == others[0].moved_to(TxStatus.CANCELLED, stage=Stage.DONE)


def test_records_without_a_version_still_load(tmp_path):
    record = sale("20261124-AAAAAA").to_record()
    del record["version"]
    assert Transaction.from_record(record).version == 0
    assert "version" not in record and Transaction.from_record(record).to_public()["terminal_id"] == "T1"


def test_changes_after_a_cursor_are_only_the_new_writes(tmp_path):
    with Journal(tmp_path / "j") as journal:
        cursor = Cursor()
        assert drain(journal, cursor) == []
        a = sale("20261124-AAAAAA")
        journal.add(a)
        journal.update(a.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        journal.add(sale("20261201-BBBBBB"))  # another month, another partition
        docs = drain(journal, cursor)
        assert [(d["id"], d["version"], d["status"]) for d in docs] == [
            ("20261124-AAAAAA", 1, "pending"), ("20261124-AAAAAA", 2, "approved"), ("20261201-BBBBBB", 1, "pending"),
        ]
        assert drain(journal, cursor) == []
        # The cursor survives JSON (it is stored at the hub), and stays where it was.
        again = Cursor.from_json(json.loads(json.dumps(cursor.to_json())))
        assert drain(journal, again) == []
        journal.update(journal.get(a.id).moved_to(TxStatus.REFUNDED, refunded_minor=1000))
        assert [(d["id"], d["version"]) for d in drain(journal, again)] == [("20261124-AAAAAA", 3)]


def test_after_a_compaction_the_month_comes_again_at_its_latest_versions(tmp_path):
    with Journal(tmp_path / "j") as journal:
        cursor = Cursor()
        txs = [sale(f"20261124-AAAAA{n}") for n in range(5)]
        for tx in txs:
            journal.add(tx)
            journal.update(tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        assert len(drain(journal, cursor)) == 10
        assert journal.compact() == ["2026-11"]
        again = drain(journal, cursor)
        assert sorted((d["id"], d["version"]) for d in again) == [(tx.id, 2) for tx in txs]
        assert all(name.startswith("2026-11.") for name in cursor.segments) and len(cursor.segments) == 1
        assert drain(journal, cursor) == []


def test_a_write_in_flight_or_torn_is_not_taken_and_reading_resumes_after_it(tmp_path):
    with Journal(tmp_path / "j") as journal:
        journal.add(sale("20261124-AAAAAA"))
        cursor = Cursor()
        assert len(drain(journal, cursor)) == 1
    segment = next((tmp_path / "j").glob("2026-11.*.log"))
    with segment.open("ab") as fh:
        fh.write(b'0badc0de {"t":"transactions","put":{"1":')  # half a record, as a crash leaves it
    with Journal(tmp_path / "j") as journal:
        assert drain(journal, cursor) == []
        journal.add(sale("20261124-BBBBBB"))  # the journal moves on to a new segment after a torn tail
        assert [d["id"] for d in drain(journal, cursor)] == ["20261124-BBBBBB"]


def test_a_record_larger_than_a_read_chunk_and_many_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(changes_mod, "CHUNK_BYTES", 512)  # smaller than one bulk record
    with Journal(tmp_path / "j") as journal:
        bulk = [sale(f"20261124-C{n:05d}") for n in range(40)]
        journal.add_many(bulk)
        for n in range(30):
            journal.add(sale(f"20261124-D{n:05d}"))
        cursor = Cursor()
        docs = drain(journal, cursor)
        assert sorted(d["id"] for d in docs) == sorted([tx.id for tx in bulk] + [f"20261124-D{n:05d}" for n in range(30)])
        assert drain(journal, cursor) == []


def test_damage_in_the_middle_is_corruption(tmp_path):
    from mpos_cli.errors import StateUnreadable

    with Journal(tmp_path / "j") as journal:
        for n in range(3):
            journal.add(sale(f"20261124-AAAAA{n}"))
    segment = next((tmp_path / "j").glob("2026-11.*.log"))
    lines = segment.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"pending", b"Pending")  # the checksum no longer matches
    segment.write_bytes(b"\n".join(lines))
    with Journal(tmp_path / "j") as journal:
        with pytest.raises(StateUnreadable):
            drain(journal, Cursor())


def test_a_cursor_that_is_not_one_reads_as_the_start(tmp_path):
    assert Cursor.from_json(None).segments == {}
    assert Cursor.from_json({"segments": {"nonsense": [1, 2, 3], "2026-11.000001.log": ["x", 1, 0]}}).segments == {}
    assert Cursor.from_json({}).to_json() == {"segments": {}}
