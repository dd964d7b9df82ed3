"""The journal's change feed: what it wrote after a cursor (``mpos sync`` pushes it).

The journal is append-only: every write is one record at the end of its
month's newest segment (``mpos_cli.journal.log``), holding the documents
that write changed, each in its new state. A *cursor* records, per segment,
how many bytes have been consumed and the segment's inode (as ``open.idx``
does), so the changes after a cursor are the records after those offsets:
a sync costs the new tail, never the journal.

Segments are never rewritten in place and their names are never reused, so
a cursor entry speaks of an immutable prefix. A compaction starts a *base*
segment holding the month's latest states and removes the older ones: the
feed then reads the month again from that base. Its receiver (the hub)
keeps the highest ``version`` of each transaction, so what it already holds
comes back as a no-op: the feed may repeat itself, it never skips a write.

Memory stays bounded whatever the backlog: a segment is read in chunks of
``CHUNK_BYTES`` (more only for a single record larger than that), and the
feed yields one journal record at a time (one transaction, or at most a
bulk insert's worth of them).

A record still being appended by another process (no newline yet) or a
torn tail is where a segment's feed stops; a bad record with good ones after
it is corruption (``StateUnreadable``, exit 8), as everywhere in the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from mpos_cli.journal import log
from mpos_cli.journal.fileops import FileOps
from mpos_cli.journal.storage import corrupt

CHUNK_BYTES = 4 << 20


@dataclass
class Position:
    """How far into one segment the feed has gone."""

    offset: int  # bytes consumed: the end of the last record taken
    inode: int
    base: bool  # the segment is a compaction base (it supersedes older ones)


@dataclass
class Cursor:
    """Per segment name, the position consumed. JSON-able (``to_json``)."""

    segments: dict[str, Position] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> "Cursor":
        """A cursor written by ``to_json``; anything else reads as the start."""
        cursor = cls()
        if not isinstance(data, dict) or not isinstance(data.get("segments"), dict):
            return cursor
        for name, value in data["segments"].items():
            if log.parse_segment_name(name) and isinstance(value, list) and len(value) == 3:
                offset, inode, base = value
                if isinstance(offset, int) and isinstance(inode, int) and offset >= 0:
                    cursor.segments[name] = Position(offset, inode, bool(base))
        return cursor

    def to_json(self) -> dict:
        return {"segments": {name: [p.offset, p.inode, p.base] for name, p in sorted(self.segments.items())}}

    def copy(self) -> "Cursor":
        return Cursor({name: Position(p.offset, p.inode, p.base) for name, p in self.segments.items()})

    def advance(self, segment: str, position: Position) -> None:
        self.segments[segment] = position


@dataclass
class Change:
    """One journal record: the documents it wrote, and where it ends."""

    documents: list[dict]
    segment: str
    position: Position


def changes_since(ops: FileOps, directory: Path, cursor: Cursor, table: str = "transactions") -> Iterator[Change]:
    """Every record written after ``cursor``, month by month, oldest segment
    first. ``cursor`` is not changed: the caller advances its own copy with
    each ``Change`` it has safely handed on. Entries for segments that are
    gone (compacted away) are dropped from ``cursor`` first."""
    try:
        names = ops.listdir(directory)
    except FileNotFoundError:
        return
    by_month: dict[str, list[int]] = {}
    for name in names:
        parsed = log.parse_segment_name(name)
        if parsed:
            by_month.setdefault(parsed[0], []).append(parsed[1])
    present = set(names)
    for name in [n for n in cursor.segments if n not in present]:
        del cursor.segments[name]
    for month in sorted(by_month):
        yield from _month(ops, directory, month, sorted(by_month[month]), cursor, table)


def _month(ops: FileOps, directory: Path, month: str, numbers: list[int], cursor: Cursor, table: str) -> Iterator[Change]:
    # The live segments run from the newest base on (older ones are
    # superseded leftovers of a compaction): find it, reading the header of
    # each segment the cursor has not seen yet.
    live_from = 0
    for index in range(len(numbers) - 1, -1, -1):
        name = log.segment_name(month, numbers[index])
        known = cursor.segments.get(name)
        base = known.base if known is not None else _is_base(ops, directory / name, month, name)
        if base:
            live_from = index
            break
    for number in numbers[:live_from]:
        cursor.segments.pop(log.segment_name(month, number), None)
    for number in numbers[live_from:]:
        name = log.segment_name(month, number)
        yield from _segment(ops, directory / name, month, name, cursor.segments.get(name), table)


def _is_base(ops: FileOps, path: Path, month: str, name: str) -> bool:
    try:
        data = ops.read_range(path, 0, 4096)
    except FileNotFoundError:
        return False
    line = data.split(b"\n", 1)[0] if b"\n" in data else b""
    record = log.decode(line) if line else None
    head = record.get("h") if record else None
    return bool(isinstance(head, dict) and head.get("base"))


def _segment(ops: FileOps, path: Path, month: str, name: str, known: Position | None, table: str) -> Iterator[Change]:
    try:
        st = ops.stat(path)
    except FileNotFoundError:
        return
    position = known
    if position is None or position.inode != st.st_ino or st.st_size < position.offset:
        # Never seen, or not the file the cursor read: from its first byte.
        position = Position(0, st.st_ino, False)
    offset = position.offset
    size = st.st_size
    chunk = CHUNK_BYTES
    while offset < size:
        data = ops.read_range(path, offset, min(size, offset + chunk))
        try:
            result = log.scan(data, offset)
        except log.Corrupt as exc:
            raise corrupt(month, name, str(exc)) from None
        if not result.records:
            if offset + len(data) >= size:
                return  # an append in flight, or a torn tail: nothing more here
            if b"\n" not in data:
                chunk *= 2  # one record larger than the chunk
                continue
            # A bad line with more after it: a torn tail, or damage? Ask the rest once.
            try:
                log.scan(ops.read_range(path, offset, size), offset)
            except log.Corrupt as exc:
                raise corrupt(month, name, str(exc)) from None
            return
        chunk = CHUNK_BYTES
        ends = _record_ends(data, offset, len(result.records))
        for record, end in zip(result.records, ends):
            head = record.get("h")
            if head is not None:
                position = Position(end, st.st_ino, bool(isinstance(head, dict) and head.get("base")))
                yield Change([], name, position)
                continue
            position = Position(end, st.st_ino, position.base)
            documents = list((record.get("put") or {}).values()) if record.get("t") == table else []
            yield Change(documents, name, position)
        offset = result.end


def _record_ends(data: bytes, base: int, count: int) -> list[int]:
    """File offsets just after each of the first ``count`` lines of ``data``."""
    ends = []
    pos = 0
    for _ in range(count):
        pos = data.index(b"\n", pos) + 1
        ends.append(base + pos)
    return ends
