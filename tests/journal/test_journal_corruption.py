"""Torn tails and corruption: what is detected, reported, refused, and never touched."""

from __future__ import annotations

import os

import pytest
from journal_faults import assert_every_access_refused, follow_up, sale

from mpos_cli.errors import StateUnreadable
from mpos_cli.journal import Journal, log
from mpos_cli.journal.storage import MonthStorage
from mpos_cli.transaction import Stage, TxStatus, TxType
from tests.helpers.files import file_digests

SEG1 = "2026-11.000001.log"
SEG2 = "2026-11.000002.log"


def digest(folder) -> dict[str, str]:
    return file_digests(folder, skip=("LOCK", "open.idx"))


def three_sales(jdir):
    txs = [sale() for _ in range(3)]
    with Journal(jdir) as journal:
        for tx in txs:
            journal.add(tx)
        journal.update(txs[0].moved_to(TxStatus.APPROVED, stage=Stage.DONE))
    return txs


def flip_byte_in_line(path, line_no: int) -> None:
    data = bytearray(path.read_bytes())
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
    position = starts[line_no] + 40
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "garbage-line", "truncated-line"])
def test_corruption_in_the_middle_is_exit_8_and_nothing_is_written(jdir, how):
    txs = three_sales(jdir)
    path = jdir / SEG1
    if how == "flip":
        flip_byte_in_line(path, 2)  # the second sale; good records follow
    else:
        lines = path.read_bytes().splitlines(keepends=True)
        bad = b"not a record at all\n" if how == "garbage-line" else lines[2][:30] + b"\n"
        lines.insert(2, bad)
        path.write_bytes(b"".join(lines))
    before = digest(jdir)

    with Journal(jdir) as journal:
        assert_every_access_refused(journal, get_id=txs[1].id, find_id=txs[2].id,
                                    update=txs[1].moved_to(TxStatus.APPROVED, stage=Stage.DONE), says="verify")
        report = journal.verify()
    assert not report.clean
    assert any("2026-11" in p and "corrupt" in p for p in report.problems)
    assert digest(jdir) == before, "a corrupt journal is never overwritten"


def test_other_months_stay_usable_when_one_is_corrupt(jdir):
    txs = three_sales(jdir)
    october = sale("2026-10-05")
    with Journal(jdir) as journal:
        journal.add(october)
    flip_byte_in_line(jdir / SEG1, 2)
    with Journal(jdir) as journal:
        assert journal.get(october.id) == october
        assert [t.id for t in journal.iter("2026-10-01", "2026-10-31")] == [october.id]
        with pytest.raises(StateUnreadable):
            journal.get(txs[0].id)


@pytest.mark.parametrize(
    "tail",
    [b"3f2a", b"0badc0de {\"t\":\"transactions\",\"put\":{\"1\"", b"\x00" * 4096, b"deadbeef {}\n"],
    ids=["crc-only", "half-record", "zeros", "bad-checksum-line"],
)
def test_a_torn_tail_loads_the_last_acknowledged_state_and_is_never_touched(jdir, tail):
    txs = three_sales(jdir)
    path = jdir / SEG1
    with open(path, "ab") as fh:
        fh.write(tail)
    torn_bytes = path.read_bytes()

    with Journal(jdir) as journal:
        assert journal.get(txs[0].id).status == TxStatus.APPROVED
        assert len(list(journal.iter())) == 3
        report = journal.verify()
        assert report.clean, report.problems
        assert len(report.torn_tails) == 1 and f"{len(tail)} bytes" in report.torn_tails[0]
        # Appending after a torn tail goes to a new segment; the torn one stays as it is.
        later = sale()
        journal.add(later)
        journal.update(txs[1].moved_to(TxStatus.DECLINED, stage=Stage.DONE))
        assert any("torn" in n for n in journal.notices())
    assert path.read_bytes() == torn_bytes
    assert (jdir / SEG2).exists()
    head = log.decode((jdir / SEG2).read_bytes().splitlines()[0])["h"]
    assert head["after"] == {"segment": SEG1, "end": len(torn_bytes) - len(tail)}

    with Journal(jdir) as journal:
        assert journal.get(later.id) == later
        assert journal.get(txs[1].id).status == TxStatus.DECLINED
        report = journal.verify()
        assert report.clean and len(report.torn_tails) == 1
        # Compaction keeps the torn bytes aside before removing the segment.
        journal.compact()
        assert journal.get(later.id) == later
    kept = list((jdir / "torn").iterdir())
    assert [p.read_bytes() for p in kept] == [tail]
    assert not path.exists()
    with Journal(jdir) as journal:
        assert journal.verify().torn_tails == []
        assert len(list(journal.iter())) == 4


def test_a_bad_tail_no_later_segment_accounts_for_is_corruption(jdir):
    three_sales(jdir)
    path = jdir / SEG1
    with open(path, "ab") as fh:
        fh.write(b"0badc0de {torn")
    with Journal(jdir) as journal:
        journal.add(sale())  # starts segment 2, whose header accepts the torn tail
    # Rewrite segment 2's header as if it had not seen the tail.
    seg2 = jdir / SEG2
    lines = seg2.read_bytes().splitlines(keepends=True)
    head = log.decode(lines[0][:-1])
    head["h"]["after"] = None
    seg2.write_bytes(log.encode(head) + b"".join(lines[1:]))
    before = digest(jdir)
    with Journal(jdir) as journal:
        with pytest.raises(StateUnreadable, match="later segments after it"):
            list(journal.iter())
        with pytest.raises(StateUnreadable):
            journal.add(sale())
        assert not journal.verify().clean
    assert digest(jdir) == before


def test_a_segment_that_shrinks_under_a_reader_is_corruption(jdir):
    txs = three_sales(jdir)
    with Journal(jdir) as journal:
        assert journal.get(txs[0].id)
        path = jdir / SEG1
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(StateUnreadable, match="shrank"):
            journal.add(sale())


def test_an_interrupted_compaction_leaves_a_superseded_segment_that_is_ignored(jdir):
    txs = three_sales(jdir)
    old = (jdir / SEG1).read_bytes()
    with Journal(jdir) as journal:
        journal.compact()
    (jdir / SEG1).write_bytes(old)  # as if the crash came before the old segment was removed
    os.chmod(jdir / SEG1, 0o600)
    with Journal(jdir) as journal:
        assert journal.get(txs[0].id).status == TxStatus.APPROVED
        journal.update(txs[1].moved_to(TxStatus.APPROVED, stage=Stage.DONE))
        report = journal.verify()
        assert report.clean and any("superseded" in w for w in report.warnings)
        journal.compact()
    assert not (jdir / SEG1).exists() and not (jdir / SEG2).exists()
    with Journal(jdir) as journal:
        assert journal.get(txs[1].id).status == TxStatus.APPROVED
        assert journal.verify().warnings == []


def _raw_commit(jdir, docs: dict) -> None:
    """Write documents bypassing every check of Journal (what a bug or a hand edit could do)."""
    with Journal(jdir) as journal:
        storage = MonthStorage(jdir, "2026-11", ops=journal.ops, lock=journal.lock)
        storage.commit("transactions", docs, [])
        storage.close()


def test_verify_finds_what_the_storage_alone_cannot(jdir):
    from mpos_cli.journal import locate

    good = sale(status=TxStatus.APPROVED, stage=Stage.DONE)
    going_back = sale(status=TxStatus.DECLINED, stage=Stage.DONE)
    over = sale(status=TxStatus.PARTIALLY_REFUNDED, stage=Stage.DONE, refunded_minor=99999)
    orphan = follow_up(good, TxType.REFUND, 100, status=TxStatus.APPROVED, stage=Stage.DONE, original_id="20261101-AAAAAA")
    misfiled = sale()
    with Journal(jdir) as journal:
        journal.add_many([good, going_back, over, orphan])
    doc = lambda tx: {str(locate(tx.id)[1]): tx.to_record()}  # noqa: E731
    _raw_commit(jdir, doc(going_back.with_changes(status=TxStatus.APPROVED)))
    _raw_commit(jdir, {str(locate(good.id)[1] + 1): misfiled.to_record()})
    report = Journal(jdir).verify()
    text = "\n".join(report.problems)
    assert f"{going_back.id} went from declined to approved" in text
    assert f"{over.id}: refunded 99999 is more than its total" in text
    assert f"{orphan.id}: a refund of 20261101-AAAAAA, which is not in the journal" in text
    assert f"{misfiled.id} is filed under the wrong month or document id" in text
    assert "duplicate transaction id" not in text
    _raw_commit(jdir, {str(locate(good.id)[1] + 2): good.to_record()})
    assert any(f"duplicate transaction id {good.id}" in p for p in Journal(jdir).verify().problems)
