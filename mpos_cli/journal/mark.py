"""The high-water mark: how far each month's log had been acknowledged.

A torn tail (an append that never completed) and a file cut short (records
that *were* acknowledged, gone) look alike from the log alone: both end in
fewer good records than were written. ``journal/YYYY-MM.mark`` tells them
apart. After every append to a month, once the append is fsynced, the
writer records where the log then ended::

    {"mark": {"month": "2026-11", "seq": 41, "first": 1, "segment": 3,
              "start": 2048, "end": 2611, "crc": "3caf79e2"}}

``segment`` is the newest segment, ``end`` the end of its last acknowledged
record (which starts at ``start`` and has checksum ``crc``), ``first`` the
oldest live segment (1, or the compaction's base segment).

Ordering is the whole design. The mark is written only *after* the log's
``fsync`` returned, and without an ``fsync`` of its own: whatever of it
reaches the disk describes bytes already durable in the log, so a crash or
a power cut can only leave the mark *behind* the log (an older value, or a
slot torn in mid-write), never ahead of it. A mark behind the log proves
nothing and accuses nothing; a log that ends before its mark has lost
acknowledged records.

The file is two slots of 512 bytes (at offsets 0 and 512, each in its own
disk sector), each one record in the log's format (``crc32 json``, see
``mpos_cli.journal.log``) padded with spaces. A write goes to the slot that
does not hold the newest valid mark, so a torn write leaves the previous
mark readable. A slot that fails its checksum is ignored; a file with no
valid slot is no mark at all (no check, and ``verify`` says so).

Readers read the mark *before* they list the folder or read a segment: the
log only grows under the lock, so what they then find is at least what the
mark says.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mpos_cli.journal import log
from mpos_cli.journal.fileops import FileOps

SLOT_SIZE = 512
SLOTS = 2
FILE_SIZE = SLOT_SIZE * SLOTS

MARK_RE = re.compile(r"^(\d{4}-\d{2})\.mark$")

_FIELDS = ("month", "seq", "first", "segment", "start", "end", "crc")
_TEMPLATE = b'{"mark":{"month":"%s","seq":%d,"first":%d,"segment":%d,"start":%d,"end":%d,"crc":"%s"}}'
_CRC_RE = re.compile(r"^[0-9a-f]{8}$")


def mark_name(month: str) -> str:
    return f"{month}.mark"


def parse_mark_name(name: str) -> str | None:
    match = MARK_RE.match(name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Mark:
    month: str
    seq: int
    first: int  # oldest live segment
    segment: int  # newest segment
    start: int  # where its last acknowledged record starts
    end: int  # and ends
    crc: str  # that record's checksum (its first eight bytes)

    def encode(self) -> bytes:
        """One slot: the record as ``log.encode`` would write it (compact
        JSON, keys in this order), padded with spaces to the slot's size.
        Formatted by hand: it runs after every append."""
        body = _TEMPLATE % (
            self.month.encode("ascii"), self.seq, self.first, self.segment, self.start, self.end,
            self.crc.encode("ascii"),
        )
        line = b"%08x %s" % (zlib.crc32(body), body)
        if len(line) >= SLOT_SIZE:  # pragma: no cover - about 130 bytes with 12-digit offsets
            raise ValueError("a high-water mark does not fit its slot")
        return line + b" " * (SLOT_SIZE - len(line) - 1) + b"\n"


def _decode_slot(data: bytes, month: str) -> Mark | None:
    newline = data.find(b"\n")
    if newline < 0:
        return None
    record = log.decode(data[:newline].rstrip(b" "))
    body = record.get("mark") if record else None
    if not isinstance(body, dict) or set(body) != set(_FIELDS) or body["month"] != month:
        return None
    numbers = [body[name] for name in ("seq", "first", "segment", "start", "end")]
    if not all(type(n) is int and n >= 0 for n in numbers) or not isinstance(body["crc"], str):
        return None
    if not _CRC_RE.match(body["crc"]) or not 1 <= body["first"] <= body["segment"] or body["start"] >= body["end"]:
        return None
    return Mark(**body)


def parse(data: bytes, month: str) -> tuple[Mark | None, int]:
    """The newest valid mark in a mark file's bytes, and the slot it is in
    (-1 when there is none)."""
    best: Mark | None = None
    slot = -1
    for i in range(SLOTS):
        found = _decode_slot(data[i * SLOT_SIZE : (i + 1) * SLOT_SIZE], month)
        if found is not None and (best is None or found.seq > best.seq):
            best, slot = found, i
    return best, slot


@dataclass
class MarkReading:
    mark: Mark | None
    present: bool  # a mark file exists (with or without a valid slot)


def read(ops: FileOps, directory: Path, month: str) -> MarkReading:
    try:
        data = ops.read_range(directory / mark_name(month), 0, FILE_SIZE)
    except FileNotFoundError:
        return MarkReading(None, False)
    return MarkReading(parse(data, month)[0], True)


class MarkFile:
    """The writer's side: one open descriptor, one ``pread`` and one
    ``pwrite`` per append, never an ``fsync``."""

    def __init__(self, ops: FileOps, directory: Path, month: str) -> None:
        self.ops = ops
        self.path = Path(directory) / mark_name(month)
        self.month = month
        self._fd: int | None = None
        self._last: tuple[Mark, int] | None = None  # the mark this writer wrote last, and its slot

    def advance(self, *, first: int, segment: int, start: int, end: int, line: bytes) -> None:
        """Record that the log now ends, acknowledged, at ``end`` of
        ``segment`` (its last record ``line`` starting at ``start``). Call
        only after that record's ``fsync`` returned, under the journal lock.

        A failure here is swallowed: the append is durable and acknowledged
        already, and a mark left behind is only a weaker check, never a
        false alarm."""
        try:
            if self._fd is None:
                self._fd = self.ops.open(self.path, os.O_RDWR | os.O_CREAT)
            last = self._last
            if last is not None and (last[0].segment, last[0].end) == (segment, start):
                # The log ended where our own last mark said: nobody appended
                # (so nobody wrote a mark) since; no need to read it back.
                current, slot = last
            else:
                current, slot = parse(self.ops.pread(self._fd, FILE_SIZE, 0), self.month)
            seq = current.seq + 1 if current else 1
            mark = Mark(self.month, seq, first, segment, start, end, line[:8].decode("ascii"))
            target = 1 - slot if slot >= 0 else 0
            self._last = None
            self.ops.pwrite(self._fd, mark.encode(), target * SLOT_SIZE)
            self._last = (mark, target)
        except OSError:
            self.close()

    def close(self) -> None:
        self._last = None
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                self.ops.close(fd)
            except OSError:
                pass


def lost_records(
    mark: Mark, present: list[int], good_end: Callable[[int], int | None], *, measured: str = "its good records end"
) -> str | None:
    """What acknowledged records the segments on disk lack, or None.

    ``present``: the month's segment numbers on disk; ``good_end(n)``: where
    the good records of segment ``n`` end, as far as the caller knows (None:
    not known; ``measured`` says what was measured, for the message). A
    mark behind the log (the log has moved on to later segments since it
    was written, after a crash or a failed mark write) checks only what it
    still can.
    """
    name = lambda n: log.segment_name(mark.month, n)  # noqa: E731
    acknowledged = f"records up to byte {mark.end} of {name(mark.segment)} were acknowledged"
    if not present:
        return f"every segment of the month is gone, though {acknowledged}"
    newest = max(present)
    if newest < mark.segment:
        gone = [name(n) for n in range(newest + 1, mark.segment + 1)]
        return f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} missing ({acknowledged})"
    if newest == mark.segment:
        gone = [name(n) for n in range(mark.first, mark.segment + 1) if n not in present]
        if gone:
            return f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} missing ({acknowledged})"
    end = good_end(mark.segment) if mark.segment in present else None
    if end is not None and end < mark.end:
        return f"{name(mark.segment)} was cut short: {acknowledged}; {measured} at byte {end}"
    return None


def last_record_matches(mark: Mark, data: bytes) -> bool:
    """Whether the segment's bytes ``data`` (from offset 0) hold the mark's
    last acknowledged record where the mark says: same checksum, ending in a
    line feed at ``end``. Call only when the good records reach ``end``."""
    starts_a_line = mark.start == 0 or data[mark.start - 1 : mark.start] == b"\n"
    return (
        starts_a_line
        and data[mark.start : mark.start + 8] == mark.crc.encode("ascii")
        and data[mark.end - 1 : mark.end] == b"\n"
    )
