"""Lost records (SPEC §9): a journal that lost records it had acknowledged is
corrupt (exit 8, nothing written), while a torn tail from a crash, which was
never acknowledged, is still accepted. The month's high-water mark tells the
two apart; see mpos_cli/journal/mark.py."""

from __future__ import annotations

import os

import pytest
from journal_faults import FaultyOps, SimulatedCrash, assert_every_access_refused, sale

from mpos_cli.errors import StateUnreadable
from mpos_cli.journal import Journal, log
from mpos_cli.journal import mark as hwm
from mpos_cli.journal.fileops import FileOps
from mpos_cli.transaction import Stage, TxStatus
from tests.helpers.files import file_digests

SEG1 = "2026-11.000001.log"
SEG2 = "2026-11.000002.log"
MARK = "2026-11.mark"


def everything(folder) -> dict[str, str]:
    """Every file's digest, the index and the lock included: nothing may change."""
    return file_digests(folder)


def approved_sale(jdir):
    """A sale journaled as sent, then approved, as a charge does; and another one still open."""
    tx = sale()
    other = sale()
    with Journal(jdir) as journal:
        journal.add(tx)
        journal.add(other)
        journal.update(tx.with_changes(stage=Stage.SENT))
        approved = tx.moved_to(TxStatus.APPROVED, stage=Stage.DONE, auth_code="A1B2C3")
        journal.update(approved)
        assert {t.id for t in journal.open_transactions()} == {other.id}  # the index is current
    return approved


def record_starts(path) -> list[int]:
    data = path.read_bytes()
    return [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A][:-1]


def assert_refused_and_untouched(jdir, tx) -> None:
    before = everything(jdir)
    with Journal(jdir, lock_timeout=2) as journal:
        assert_every_access_refused(journal, get_id=tx.id, find_id=tx.id,
                                    update=tx.moved_to(TxStatus.REFUNDED, refunded_minor=tx.total_minor),
                                    says="lost records it had acknowledged")
        report = journal.verify()
    assert not report.clean
    assert any("lost records" in p for p in report.problems), report.problems
    assert everything(jdir) == before, "nothing may be written to a journal that lost records"


@pytest.mark.parametrize("cut", ["one-byte", "half", "to-an-earlier-record", "emptied"])
def test_a_segment_cut_short_is_lost_records_not_a_torn_tail(jdir, cut):
    tx = approved_sale(jdir)
    path = jdir / SEG1
    size = path.stat().st_size
    keep = {
        "one-byte": size - 1,  # into the last record: it reads as a torn tail
        "half": size // 2,
        "to-an-earlier-record": record_starts(path)[-1],  # a clean record boundary: no tail at all
        "emptied": 0,
    }[cut]
    os.truncate(path, keep)
    assert_refused_and_untouched(jdir, tx)


def test_the_approved_update_cut_off_is_never_read_as_pending(jdir):
    tx = approved_sale(jdir)
    path = jdir / SEG1
    os.truncate(path, path.stat().st_size - 1)
    with Journal(jdir) as journal:
        with pytest.raises(StateUnreadable):
            journal.open_transactions()  # recovery would reverse a "sent" sale
        with pytest.raises(StateUnreadable):
            journal.find(tx.id)


def torn_then_continued(jdir):
    """Segment 1 ends in a torn tail; the next write went to segment 2."""
    tx = approved_sale(jdir)
    with open(jdir / SEG1, "ab") as fh:
        fh.write(b"0badc0de {\"t\":\"transac")
    later = sale()
    with Journal(jdir) as journal:
        journal.add(later)
        later = later.moved_to(TxStatus.APPROVED, stage=Stage.DONE)
        journal.update(later)
    assert (jdir / SEG2).exists()
    return tx, later


@pytest.mark.parametrize("which", [SEG1, SEG2])
def test_a_segment_removed_is_lost_records(jdir, which):
    tx, later = torn_then_continued(jdir)
    (jdir / which).unlink()
    assert_refused_and_untouched(jdir, later if which == SEG2 else tx)


def test_a_month_whose_only_segment_was_removed_is_lost_records(jdir):
    tx = approved_sale(jdir)
    (jdir / SEG1).unlink()
    assert_refused_and_untouched(jdir, tx)
    with Journal(jdir) as journal:
        assert "2026-11" in journal.months(), "a month whose mark survives is still a month"


def test_a_segment_removed_is_caught_without_a_mark_too(jdir):
    """Segments chain by their headers: the oldest removed, or one from the
    middle, shows whatever happened to the mark."""
    tx, later = torn_then_continued(jdir)
    (jdir / MARK).unlink()
    (jdir / SEG1).unlink()
    with Journal(jdir) as journal:
        with pytest.raises(StateUnreadable, match="2026-11.000001.log is missing"):
            journal.get(later.id)


def test_a_genuine_torn_tail_is_still_accepted(jdir):
    """A crash in the middle of an append (never acknowledged) with the mark
    as the previous append left it: loads, verify is clean, writes go on."""
    tx = approved_sale(jdir)
    mark_before = (jdir / MARK).read_bytes()
    with open(jdir / SEG1, "ab") as fh:
        fh.write(b"1234abcd {\"t\":\"transactions\",\"put\":{\"")
    with Journal(jdir) as journal:
        assert journal.get(tx.id).status == TxStatus.APPROVED
        report = journal.verify()
        assert report.clean and len(report.torn_tails) == 1
        journal.add(sale())
    assert (jdir / MARK).read_bytes() != mark_before
    with Journal(jdir) as journal:
        assert journal.verify().clean


def test_a_crash_between_the_append_and_the_mark_leaves_the_mark_behind_which_is_fine(jdir):
    """The record is durable, its mark never written: the log is ahead of
    the mark, which proves nothing and accuses nothing."""
    tx = approved_sale(jdir)

    ops = FaultyOps(1, mode="die", partial=0.0, kinds=("pwrite",))  # dies at the mark's write
    journal = Journal(jdir, ops=ops)
    newcomer = sale()
    with pytest.raises(SimulatedCrash):
        journal.add(newcomer)
    assert ops.fired and ops.log[-1].endswith("pwrite:2026-11.mark")
    ops.kill()
    mark = hwm.read(FileOps(), jdir, "2026-11").mark
    assert mark.end < (jdir / SEG1).stat().st_size
    with Journal(jdir) as journal:
        assert journal.get(newcomer.id) == newcomer
        assert journal.get(tx.id) == tx
        assert journal.verify().clean


@pytest.mark.parametrize("damage", ["newest-slot-torn", "both-slots-torn", "mark-removed", "older-mark-restored"])
def test_a_mark_lost_torn_or_behind_is_never_a_false_alarm(jdir, damage):
    tx = approved_sale(jdir)
    path = jdir / MARK
    older = path.read_bytes()
    newcomer = sale()
    with Journal(jdir) as journal:
        journal.add(newcomer)
    data = bytearray(path.read_bytes())
    newest = hwm.parse(bytes(data), "2026-11")[1]
    if damage == "newest-slot-torn":
        data[newest * hwm.SLOT_SIZE + 40] ^= 0x20
        path.write_bytes(bytes(data))
    elif damage == "both-slots-torn":
        data[40] ^= 0x20
        data[hwm.SLOT_SIZE + 40] ^= 0x20
        path.write_bytes(bytes(data))
    elif damage == "mark-removed":
        path.unlink()
    else:
        path.write_bytes(older)
    with Journal(jdir) as journal:
        assert journal.get(tx.id) == tx and journal.get(newcomer.id) == newcomer
        assert newcomer.id in {t.id for t in journal.open_transactions()}
        report = journal.verify()
        assert report.clean, report.problems
        unreadable = [w for w in report.warnings if "high-water mark" in w]
        assert bool(unreadable) == (damage == "both-slots-torn"), report.warnings
        journal.add(sale())
    assert hwm.read(FileOps(), jdir, "2026-11").mark.end == (jdir / SEG1).stat().st_size


def test_the_mark_survives_a_torn_slot_write(jdir):
    """A mark write torn in mid-slot leaves the other slot's (older) mark in charge."""
    tx = approved_sale(jdir)
    before = hwm.read(FileOps(), jdir, "2026-11").mark
    ops = FaultyOps(1, mode="error", partial=0.1, kinds=("pwrite",))  # torn inside the record
    newcomer = sale()
    with Journal(jdir, ops=ops) as journal:
        journal.add(newcomer)  # the mark's write fails: the append is durable, and acknowledged
        assert ops.fired
    assert hwm.read(FileOps(), jdir, "2026-11").mark == before
    with Journal(jdir) as journal:
        assert journal.get(newcomer.id) == newcomer
        journal.add(sale())
    assert hwm.read(FileOps(), jdir, "2026-11").mark.seq == before.seq + 1


def test_a_segment_replaced_by_another_of_the_same_length_is_caught(jdir):
    tx = approved_sale(jdir)
    path = jdir / SEG1
    lines = path.read_bytes().splitlines(keepends=True)
    # The same bytes but the last record rewritten as another good record.
    body = log.decode(lines[-1][:-1])
    body["put"][next(iter(body["put"]))]["auth_code"] = "ZZZZZZ"
    path.write_bytes(b"".join(lines[:-1]) + log.encode(body))
    with Journal(jdir) as journal:
        with pytest.raises(StateUnreadable, match="does not hold the record acknowledged last"):
            journal.get(tx.id)


def test_a_mark_newer_than_the_listing_is_not_a_false_alarm(jdir):
    """open_transactions reads without the lock: another process may start a
    new segment (and advance the mark) between its listing and its reading
    of the mark. It then looks again under the lock instead of crying wolf."""
    approved_sale(jdir)
    with open(jdir / SEG1, "ab") as fh:
        fh.write(b"0badc0de {torn")  # the next write starts segment 2
    newcomer = sale()

    class WriterSneaksIn(FileOps):
        fired = False

        def listdir(self, path):
            names = super().listdir(path)
            if not self.fired and "open.idx" in names:
                self.fired = True
                with Journal(jdir) as other:
                    other.add(newcomer)
            return names

    with Journal(jdir, ops=WriterSneaksIn()) as journal:
        assert newcomer.id in {t.id for t in journal.open_transactions()}
        assert journal.ops.fired


def test_a_mark_slot_is_one_record_in_the_segment_format(jdir):
    """Each slot holds what ``log.encode`` writes for the mark (so ``log.decode``
    and any reader of segments reads it), padded to the slot."""
    approved_sale(jdir)
    data = (jdir / MARK).read_bytes()
    assert len(data) == hwm.FILE_SIZE
    mark, slot = hwm.parse(data, "2026-11")
    raw = data[slot * hwm.SLOT_SIZE : (slot + 1) * hwm.SLOT_SIZE]
    line = raw.rstrip(b" \n")
    assert raw == line + b" " * (hwm.SLOT_SIZE - len(line) - 1) + b"\n"
    assert line + b"\n" == log.encode({"mark": {f: getattr(mark, f) for f in
                                                ("month", "seq", "first", "segment", "start", "end", "crc")}})
    assert mark.end == (jdir / SEG1).stat().st_size
