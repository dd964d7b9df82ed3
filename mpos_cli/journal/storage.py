"""Our tinydb storage: one month of the journal as append-only, checksummed segments.

tinydb stays the document and query layer; this module is where the bytes
go. ``MonthStorage`` is a ``tinydb.Storage``: ``read()`` and ``write()``
work as tinydb expects (``write`` appends only the documents that changed
since the last ``read``), and ``JournalTable`` (the table class of
``JournalDB``) goes further and hands each change straight to
``MonthStorage.commit`` so that a write costs the size of the change, never
the size of the month.

One month (``YYYY-MM``) is a run of segment files ``YYYY-MM.NNNNNN.log``
(format in ``mpos_cli.journal.log``). Only the newest segment is ever
appended to, under the journal lock, with one ``write`` and one ``fsync``
per change. A segment is born complete: header written to a temp file,
fsynced, renamed into place, folder fsynced.

Reading without the lock, an unfinished last record is someone else's write
in flight and is simply not there yet. Under the lock it is a *torn tail*:
a write that never returned. It is left in place, byte for byte, never
truncated or overwritten; the next write starts a new segment whose header
names the last good byte of the torn one, which is how a loader tells an
accepted torn tail from damage. Bad bytes followed by good records anywhere,
or a bad tail no later header accounts for, are corruption:
``StateUnreadable`` (exit 8), and nothing is written.

A torn tail is an append that was never acknowledged; a file cut short
into records that *were* acknowledged would look the same. The month's
high-water mark (``mpos_cli.journal.mark``), advanced after every fsynced
append, tells them apart: a log that ends before its mark, or lacks a
segment the mark or the chain of segment headers names, has lost
acknowledged records: ``StateUnreadable`` as well, and nothing is written.

Compaction rewrites a month as one *base* segment (temp, fsync, rename,
folder fsync) that supersedes the older ones, which are then removed; torn
tails are first copied to ``torn/`` so no byte is dropped unseen.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tinydb import TinyDB
from tinydb.storages import Storage

from mpos_cli.errors import StateUnreadable
from mpos_cli.journal import log
from mpos_cli.journal import mark as hwm
from mpos_cli.journal.fileops import FileOps
from mpos_cli.journal.lock import JournalLock
from mpos_cli.journal.tinydb_table import TinyDBTableAdapter

TORN_DIR = "torn"
SNAPSHOT_CHUNK = 2000  # documents per record in a compaction snapshot


@dataclass
class TornTail:
    segment: str
    offset: int  # first byte of the tail (= end of the last good record)
    length: int

    def describe(self, month: str) -> str:
        return (
            f"journal {month}: segment {self.segment} ends in a torn write of {self.length} bytes "
            f"at byte {self.offset} (a write that never completed; kept in place, not loaded)"
        )


@dataclass
class MonthState:
    """What reading a month's segments found."""

    tables: dict[str, dict[str, dict]] = field(default_factory=dict)
    segments: list[int] = field(default_factory=list)  # live segments, base first
    end: int = 0  # end of the last good record of the newest segment
    tail: int = 0  # bytes after ``end`` in the newest segment
    torn: list[TornTail] = field(default_factory=list)  # tails of sealed segments
    leftovers: list[str] = field(default_factory=list)  # superseded by a base segment
    versions: int = 0  # document versions in the live segments
    mark: hwm.MarkReading | None = None  # the high-water mark read before the segments

    @property
    def active(self) -> int | None:
        return self.segments[-1] if self.segments else None


Visitor = Callable[[str, int, dict], None]


def month_segments(names: list[str], month: str) -> list[int]:
    numbers = []
    for name in names:
        parsed = log.parse_segment_name(name, named=True)
        if parsed and parsed[0] == month:
            numbers.append(parsed[1])
    return sorted(numbers)


def corrupt(month: str, segment: str, detail: str) -> StateUnreadable:
    return StateUnreadable(
        f"journal partition {month} is corrupt ({segment}: {detail}); nothing was written",
        hint="run mpos journal verify for details and restore the file from a backup; mpos never overwrites it",
    )


def lost(month: str, detail: str) -> StateUnreadable:
    return StateUnreadable(
        f"journal partition {month} has lost records it had acknowledged ({detail}); nothing was written",
        hint="restore the journal folder from a backup (mpos never overwrites it); mpos journal verify lists what it finds",
    )


def read_month(
    ops: FileOps,
    directory: Path,
    month: str,
    *,
    names: list[str] | None = None,
    visit: Visitor | None = None,
    reading: hwm.MarkReading | None = None,
) -> MonthState:
    """Read every live segment of ``month``. Raises ``StateUnreadable`` on
    corruption or lost records. ``visit(segment, offset, record)`` sees
    every data record.

    The high-water mark is read before the folder is listed; a caller that
    passes ``names`` must hold the lock (so nothing is written between)."""
    if reading is None:
        reading = hwm.read(ops, directory, month)
    if names is None:
        names = ops.listdir(directory)
    numbers = month_segments(names, month)
    state = MonthState(mark=reading)
    mark = reading.mark
    if not numbers:
        if mark is not None:
            raise lost(month, hwm.lost_records(mark, [], lambda n: None))
        return state

    # Newest first until a base segment: older ones are superseded.
    scans: list[tuple[int, dict, log.Scan]] = []
    marked_data = b""
    for position in range(len(numbers) - 1, -1, -1):
        number = numbers[position]
        name = log.segment_name(month, number)
        try:
            data = ops.read_range(directory / name, 0)
        except FileNotFoundError:
            # Removed by a compaction that finished while we listed: start
            # over (the mark read before still cannot be ahead of the log).
            return read_month(ops, directory, month, visit=visit, reading=reading)
        if mark is not None and number == mark.segment:
            marked_data = data
        try:
            result = log.scan(data, 0, with_offsets=visit is not None)
        except log.Corrupt as exc:
            raise corrupt(month, name, str(exc)) from None
        head = result.records[0].get("h") if result.records else None
        if not isinstance(head, dict) or head.get("month") != month or head.get("segment") != number:
            if mark is not None and number == mark.segment and len(data) < mark.end:
                raise lost(month, hwm.lost_records(mark, numbers, lambda n: len(data), measured="the file ends"))
            raise corrupt(month, name, "missing or wrong segment header")
        if head.get("version") != log.VERSION or head.get("format") != log.MAGIC:
            raise corrupt(month, name, f"unknown format {head.get('format')!r} version {head.get('version')!r}")
        scans.append((number, head, result))
        if head.get("base"):
            state.leftovers = [log.segment_name(month, n) for n in numbers[:position]]
            break
    scans.reverse()

    for position, (number, head, result) in enumerate(scans):
        name = log.segment_name(month, number)
        last = position == len(scans) - 1
        if not last:
            after = scans[position + 1][1].get("after")
            named = isinstance(after, dict) and after.get("segment") == name
            if result.tail:
                if not (named and after.get("end") == result.end):
                    raise corrupt(month, name, f"bad record at byte {result.end} and later segments after it")
                state.torn.append(TornTail(name, result.end, result.tail))
            elif named and after.get("end") != result.end:
                raise corrupt(month, name, f"ends at byte {result.end}, the next segment says {after.get('end')}")
        elif position > 0:
            after = head.get("after")
            if after is not None and not isinstance(after, dict):
                raise corrupt(month, name, "bad segment header")
        tables = state.tables
        offsets = result.offsets
        for i, record in enumerate(result.records):
            if i == 0:
                continue
            if "h" in record:
                raise corrupt(month, name, "a second segment header")
            if visit is not None:
                visit(name, offsets[i], record)
            state.versions += _apply(tables, record)
        state.segments.append(number)
        if last:
            state.end = result.end
            state.tail = result.tail
    _check_chain(month, scans)
    if mark is not None:
        ends = {number: result.end for number, _, result in scans}
        detail = hwm.lost_records(mark, numbers, ends.get)
        if detail is None and mark.segment in ends and not hwm.last_record_matches(mark, marked_data):
            detail = (
                f"{log.segment_name(month, mark.segment)} does not hold the record acknowledged last "
                f"at byte {mark.start} (checksum {mark.crc}): it was replaced or rewritten"
            )
        if detail is not None:
            raise lost(month, detail)
    return state


def _check_chain(month: str, scans: list[tuple[int, dict, log.Scan]]) -> None:
    """The live segments run without a gap from a base segment or from
    000001, and each one after the first was started after a torn tail of
    the one before and names it: a segment removed from the middle or the
    start of a month is lost records, mark or no mark."""
    first, head, _ = scans[0]
    if not head.get("base") and first != 1:
        gone = ", ".join(log.segment_name(month, n) for n in range(1, first))
        raise lost(month, f"{gone} {'is' if first == 2 else 'are'} missing (the oldest left is not a compacted base)")
    for (previous, _, _), (number, head, _) in zip(scans, scans[1:]):
        if number != previous + 1:
            gone = ", ".join(log.segment_name(month, n) for n in range(previous + 1, number))
            raise lost(month, f"{gone} {'is' if number == previous + 2 else 'are'} missing")
        after = head.get("after")
        if not (isinstance(after, dict) and after.get("segment") == log.segment_name(month, previous)):
            raise corrupt(
                month, log.segment_name(month, number), f"its header does not name {log.segment_name(month, previous)}"
            )


def _apply(tables: dict[str, dict[str, dict]], record: dict) -> int:
    table = tables.get(record.get("t", ""))
    if table is None:
        table = tables[record.get("t", "")] = {}
    put = record.get("put")
    if put:
        table.update(put)
    removed = record.get("del")
    if removed:
        for doc_id in removed:
            table.pop(doc_id, None)
    return len(put) if put else 0


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class MonthStorage(Storage):
    """One month of the journal, as a tinydb storage.

    Writes require the journal lock, held exclusively (``commit`` takes it
    re-entrantly); reads do not take it.
    """

    def __init__(self, directory: Path, month: str, *, ops: FileOps, lock: JournalLock) -> None:
        self.directory = Path(directory)
        self.month = month
        self.ops = ops
        self.lock = lock
        self.state: MonthState | None = None
        self._fd: int | None = None
        self._fd_segment: int | None = None
        self._refreshed_epoch = -1
        self._baseline: dict | None = None
        self.mark = hwm.MarkFile(ops, self.directory, month)

    # -- loading and refreshing ---------------------------------------------

    def _path(self, number: int) -> Path:
        return self.directory / log.segment_name(self.month, number)

    def load(self) -> MonthState:
        self._close_fd()
        self.state = read_month(self.ops, self.directory, self.month)
        self._refreshed_epoch = self.lock.epoch if self.lock.held else -1
        return self.state

    def refresh(self) -> MonthState:
        """Bring the in-memory month up to the file: reads only what was
        appended since (two ``stat`` calls when nothing was)."""
        state = self.state
        locked = self.lock.held
        if state is None:
            return self.load()
        if locked and self._refreshed_epoch == self.lock.epoch:
            return state  # nobody else can have written since
        active = state.active
        if self._exists(self._path((active or 0) + 1)):
            return self.load()  # a new segment (torn tail or compaction elsewhere)
        if active is not None:
            path = self._path(active)
            try:
                size = self.ops.stat(path).st_size
            except FileNotFoundError:
                return self.load()
            if size < state.end:
                raise corrupt(self.month, path.name, f"shrank from {state.end} to {size} bytes")
            if size > state.end:
                data = self.ops.read_range(path, state.end, size)
                try:
                    result = log.scan(data, state.end)
                except log.Corrupt as exc:
                    raise corrupt(self.month, path.name, str(exc)) from None
                for record in result.records:
                    if "h" in record:
                        raise corrupt(self.month, path.name, "a second segment header")
                    state.versions += _apply(state.tables, record)
                state.end = result.end
                state.tail = result.tail
            else:
                state.tail = 0
        if locked:
            self._refreshed_epoch = self.lock.epoch
        return state

    def _exists(self, path: Path) -> bool:
        try:
            self.ops.stat(path)
        except FileNotFoundError:
            return False
        return True

    def live(self, table: str) -> dict[str, dict]:
        state = self.refresh()
        live = state.tables.get(table)
        if live is None:
            live = state.tables[table] = {}
        return live

    @property
    def torn_tails(self) -> list[TornTail]:
        """Torn tails known so far; the newest segment's own tail counts as
        torn only when seen under the lock."""
        state = self.state
        if state is None:
            return []
        tails = list(state.torn)
        if state.tail and state.active is not None and self.lock.held:
            tails.append(TornTail(log.segment_name(self.month, state.active), state.end, state.tail))
        return tails

    # -- writing --------------------------------------------------------------

    def commit(self, table: str, puts: dict[str, dict], dels: list[str]) -> None:
        """Append one change durably, then apply it in memory."""
        if not (puts or dels):
            return
        with self.lock:
            if self.lock.shared:
                raise RuntimeError("journal writes need the exclusive lock")
            state = self.refresh()
            line = log.encode({"t": table, "put": puts, "del": dels})
            try:
                if state.active is None or state.tail:
                    self._start_segment(state)
                fd = self._append_fd(state)
                size = self.ops.fstat(fd).st_size
                if size != state.end:
                    raise corrupt(self.month, log.segment_name(self.month, state.active), "changed under the lock")
                self.ops.write_all(fd, line)
                self.ops.fsync(fd)
            except BaseException:
                self._poison()
                raise
            start = state.end
            state.end += len(line)
            state.versions += _apply(state.tables, {"t": table, "put": puts, "del": dels})
            # Only now, with the record durable: the mark is never ahead of the log.
            self.mark.advance(first=state.segments[0], segment=state.active, start=start, end=state.end, line=line)

    def _append_fd(self, state: MonthState) -> int:
        if self._fd is None or self._fd_segment != state.active:
            self._close_fd()
            self._fd = self.ops.open(self._path(state.active), os.O_WRONLY | os.O_APPEND)
            self._fd_segment = state.active
        return self._fd

    def _new_segment_file(self, number: int, records: list[bytes]) -> Path:
        path = self._path(number)
        if self._exists(path):
            raise corrupt(self.month, path.name, "exists already; refusing to overwrite it")
        tmp = self.directory / f".{path.name}.tmp"
        fd = self.ops.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            for data in records:
                self.ops.write_all(fd, data)
            self.ops.fsync(fd)
        finally:
            self.ops.close(fd)
        self.ops.replace(tmp, path)
        self.ops.fsync_dir(self.directory)
        return path

    def _start_segment(self, state: MonthState) -> None:
        """A fresh segment: the month's first, or the next after a torn tail."""
        after = None
        number = (state.active or 0) + 1
        if state.active is not None and state.tail:
            previous = log.segment_name(self.month, state.active)
            after = {"segment": previous, "end": state.end}
            torn = TornTail(previous, state.end, state.tail)
        head = log.encode(log.header(self.month, number, base=False, after=after))
        self._new_segment_file(number, [head])
        if after is not None:
            state.torn.append(torn)
        state.segments.append(number)
        state.end = len(head)
        state.tail = 0

    def _poison(self) -> None:
        """After a failed write nothing in memory can be trusted: drop it, so
        the next use reads the files again (under the lock, a half-written
        record is then a torn tail and writing moves to a new segment)."""
        try:
            self._close_fd()
        except BaseException:
            self._fd = None
        self.state = None
        self._refreshed_epoch = -1

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            self._fd_segment = None
            self.ops.close(fd)

    # -- compaction -------------------------------------------------------------

    def compact(self) -> bool:
        """Rewrite the month as one base segment; False when there is nothing to gain."""
        with self.lock:
            state = self.load()
            if state.active is None:
                return False
            try:
                torn = list(state.torn)
                if state.tail:
                    torn.append(TornTail(log.segment_name(self.month, state.active), state.end, state.tail))
                for tail in torn:
                    self._keep_aside(tail)
                number = state.active + 1
                records = [log.encode(log.header(self.month, number, base=True, after=None))]
                live = 0
                for table, docs in state.tables.items():
                    items = list(docs.items())
                    live += len(items)
                    for start in range(0, len(items), SNAPSHOT_CHUNK):
                        chunk = dict(items[start : start + SNAPSHOT_CHUNK])
                        records.append(log.encode({"t": table, "put": chunk, "del": []}))
                self._close_fd()
                self._new_segment_file(number, records)
                old = [log.segment_name(self.month, n) for n in state.segments] + state.leftovers
                for name in old:
                    try:
                        self.ops.unlink(self.directory / name)
                    except FileNotFoundError:
                        pass
                self.ops.fsync_dir(self.directory)
            except BaseException:
                self._poison()
                raise
            state.segments = [number]
            state.end = sum(len(r) for r in records)
            state.tail = 0
            state.torn = []
            state.leftovers = []
            state.versions = live
            # The base segment and the removals are durable (folder fsynced).
            self.mark.advance(
                first=number, segment=number, start=state.end - len(records[-1]), end=state.end, line=records[-1]
            )
            return True

    def _keep_aside(self, tail: TornTail) -> None:
        folder = self.directory / TORN_DIR
        self.ops.mkdir(folder)
        target = folder / f"{tail.segment}.{tail.offset}.tail"
        if self._exists(target):
            return
        data = self.ops.read_range(self.directory / tail.segment, tail.offset, tail.offset + tail.length)
        self.ops.write_new_file(target, data, durable=True)

    def bloated(self, minimum: int = 4096) -> bool:
        state = self.state
        if state is None or state.active is None:
            return False
        live = sum(len(t) for t in state.tables.values())
        dead = state.versions - live
        return dead >= max(minimum, live) or len(state.segments) > 8

    # -- the tinydb Storage interface ------------------------------------------

    def read(self) -> dict[str, dict[str, Any]] | None:
        """A private copy of every table (the generic tinydb path; the
        journal's own table reads the live documents instead)."""
        state = self.refresh()
        self._baseline = _copy(state.tables)
        return _copy(state.tables) or None

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Append only what changed since the last ``read``/``write``."""
        baseline = self._baseline or {}
        with self.lock:
            for table in sorted(set(baseline) | set(data)):
                old = baseline.get(table, {})
                new = data.get(table, {})
                new_keys = {str(k) for k in new}
                puts = {str(k): v for k, v in new.items() if old.get(str(k)) != v}
                dels = [str(k) for k in old if str(k) not in new_keys]
                self.commit(table, _copy(puts), dels)
        self._baseline = _copy(data)

    def close(self) -> None:
        self._close_fd()
        self.mark.close()


class _Changes(MutableMapping):
    """The table as tinydb's updaters see it: reads come from the live
    documents (copied on first touch), writes are collected, nothing in the
    live table changes until the append is durable."""

    def __init__(self, live: dict[str, dict], id_class: Callable[[Any], Any]) -> None:
        self.live = live
        self.id_class = id_class
        self.docs: dict[str, dict] = {}
        self.originals: dict[str, dict] = {}
        self.deleted: set[str] = set()

    def __getitem__(self, key: Any) -> dict:
        k = str(key)
        if k in self.deleted:
            raise KeyError(key)
        doc = self.docs.get(k)
        if doc is None:
            original = self.live[k]
            doc = self.docs[k] = _copy(original)
            self.originals[k] = original
        return doc

    def __setitem__(self, key: Any, value: dict) -> None:
        k = str(key)
        self.deleted.discard(k)
        self.docs[k] = value
        self.originals.pop(k, None)

    def __delitem__(self, key: Any) -> None:
        k = str(key)
        if k not in self:
            raise KeyError(key)
        self.docs.pop(k, None)
        self.originals.pop(k, None)
        self.deleted.add(k)

    def __contains__(self, key: object) -> bool:
        k = str(key)
        return k not in self.deleted and (k in self.docs or k in self.live)

    def __iter__(self) -> Iterator[Any]:
        for k in list(self.live):
            if k not in self.deleted:
                yield self.id_class(k)
        for k in list(self.docs):
            if k not in self.live and k not in self.deleted:
                yield self.id_class(k)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def changes(self) -> tuple[dict[str, dict], list[str]]:
        puts = {}
        for k, doc in self.docs.items():
            original = self.originals.get(k)
            if original is None or doc != original:
                puts[k] = doc
        dels = [k for k in self.deleted if k in self.live]
        return puts, dels


class JournalTable(TinyDBTableAdapter):
    """A tinydb table whose writes cost the change, not the table."""

    default_query_cache_capacity = 0

    def read_documents(self) -> dict[str, Any]:
        return self.storage.live(self.name)

    def apply_changes(self, updater: Callable[[MutableMapping[Any, dict]], None]) -> None:
        storage: MonthStorage = self.storage
        with storage.lock:
            view = _Changes(storage.live(self.name), self.document_id_class)
            updater(view)
            puts, dels = view.changes()
            storage.commit(self.name, puts, dels)

    def replace_documents(self, documents: dict[int, dict]) -> None:
        """Replace whole documents in one durable append (no per-document
        copy-and-compare as ``update`` does: the caller has the new records)."""

        def updater(view: MutableMapping[Any, dict]) -> None:
            for doc_id, document in documents.items():
                view[doc_id] = document

        self.change(updater)

    def snapshot(self) -> list[tuple[str, dict]]:
        """Every (doc_id, document) pair as of now, for streaming."""
        return list(self.read_documents().items())


class JournalDB(TinyDB):
    table_class = JournalTable
    default_table_name = "transactions"
