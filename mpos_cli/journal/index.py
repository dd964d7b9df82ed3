"""``open.idx``: the open transactions (pending, offline, reversal due), cached.

Recovery and offline forwarding ask for them on every run; reading every
month for that would grow with the journal. The index is a *cache*, never
the truth: for each segment it records how many bytes it has read
(with the segment's inode), and the open documents found so far. Bringing
it up to date reads only what was appended since, so the cost is the new
tail, not the journal.

Every statement it makes is about an immutable prefix of a segment
(segments are append-only and their names are never reused), so any copy
of it is correct for what it covers, whoever wrote it and whenever: it is
written without the lock and without fsync (temp file and rename), and a
missing, stale or damaged index (bad checksum) is simply rebuilt.

A cache must not hide lost records: a month the refresh has to read again
(or has never read) is first checked against its high-water mark, and a
month that lost acknowledged records stops the refresh (exit 8) before
anything is read from it, acted on, or written.
"""

from __future__ import annotations

from pathlib import Path

from mpos_cli.journal import log
from mpos_cli.journal import mark as hwm
from mpos_cli.journal.fileops import FileOps
from mpos_cli.journal.lock import JournalLock
from mpos_cli.journal.storage import corrupt, lost

INDEX_NAME = "open.idx"
INDEX_VERSION = 1

OPEN_STATUSES = frozenset({"pending", "offline"})


def is_open(doc: dict) -> bool:
    return doc.get("status") in OPEN_STATUSES or doc.get("stage") == "reversal_due"


class _Suspect(Exception):
    """A month seems to have lost records; to be confirmed under the lock."""


class OpenIndex:
    def __init__(self, directory: Path, ops: FileOps, lock: JournalLock | None = None) -> None:
        self.directory = directory
        self.path = directory / INDEX_NAME
        self.ops = ops
        self.lock = lock

    def _load(self) -> dict:
        empty = {"v": INDEX_VERSION, "seg": {}, "open": {}}
        try:
            data = self.ops.read_range(self.path, 0)
        except FileNotFoundError:
            return empty
        record = log.decode(data[:-1]) if data.endswith(b"\n") else None
        if not record or record.get("v") != INDEX_VERSION:
            return empty
        if not isinstance(record.get("seg"), dict) or not isinstance(record.get("open"), dict):
            return empty
        return record

    def refresh(self, table: str = "transactions") -> dict[str, dict]:
        """Every open document, by doc id (``{month: {doc_id: doc}}`` flattened).

        Raises ``StateUnreadable`` when a month it must read again has lost
        acknowledged records (see ``mpos_cli.journal.mark``), before it
        writes anything."""
        try:
            return self._refresh(table, confirmed=self.lock is None)
        except _Suspect:
            # Read without the lock, a mark can be newer than the listing or
            # the sizes taken before it: look again with writers held off.
            self.lock.acquire(shared=True)
            try:
                return self._refresh(table, confirmed=True)
            finally:
                self.lock.release()

    def _refresh(self, table: str, *, confirmed: bool) -> dict[str, dict]:
        index = self._load()
        seg: dict[str, list] = index["seg"]  # name -> [bytes read, inode]
        opened: dict[str, dict[str, dict]] = index["open"]  # month -> doc_id -> doc
        changed = False
        names = self.ops.listdir(self.directory)
        by_month: dict[str, list[int]] = {}
        marked: set[str] = set()
        for name in names:
            parsed = log.parse_segment_name(name)
            if parsed:
                by_month.setdefault(parsed[0], []).append(parsed[1])
            else:
                month = hwm.parse_mark_name(name)
                if month:
                    marked.add(month)
        sizes: dict[str, tuple[int, int]] = {}  # name -> (size, inode)
        for month, numbers in by_month.items():
            for number in numbers:
                name = log.segment_name(month, number)
                try:
                    st = self.ops.stat(self.directory / name)
                except FileNotFoundError:
                    continue
                sizes[name] = (st.st_size, st.st_ino)

        # The months this refresh must read again (bytes appended, a segment
        # new, gone, shrunk or replaced), and months it has never read: those
        # are checked against their high-water marks first. A month nothing
        # happened to was checked when it last changed.
        known = {name.split(".", 1)[0] for name in seg}
        touched = set(marked - known)
        for name in seg:
            if name not in sizes or sizes[name][0] != seg[name][0] or sizes[name][1] != seg[name][1]:
                touched.add(name.split(".", 1)[0])
        for name in sizes:
            if name not in seg:
                touched.add(name.split(".", 1)[0])
        marks: dict[str, hwm.Mark] = {}
        for month in sorted(touched & marked):
            mark = hwm.read(self.ops, self.directory, month).mark
            if mark is None:
                continue
            marks[month] = mark
            present = [n for n in by_month.get(month, []) if log.segment_name(month, n) in sizes]
            on_disk = lambda n, m=month: sizes[log.segment_name(m, n)][0]  # noqa: E731
            self._check(mark, present, on_disk, confirmed, measured="the file ends")

        # Segments or months that disappeared (compaction, a month removed):
        # forget what the index knew of those months and read them again.
        present_names = set(names)
        for name in list(seg):
            if name not in present_names:
                month = name.split(".", 1)[0]
                for other in [n for n in seg if n.split(".", 1)[0] == month]:
                    del seg[other]
                opened.pop(month, None)
                changed = True

        for month in sorted(by_month):
            for number in sorted(by_month[month]):
                name = log.segment_name(month, number)
                path = self.directory / name
                if name not in sizes:
                    continue
                size, ino = sizes[name]
                read, inode = seg.get(name, (0, None))
                if inode is not None and (inode != ino or size < read):
                    # Not the file the index read: start this month again.
                    for other in [n for n in seg if n.split(".", 1)[0] == month]:
                        del seg[other]
                    opened.pop(month, None)
                    read = 0
                    changed = True
                    if number != sorted(by_month[month])[0]:
                        return self._rebuild(table)
                if size <= read:
                    continue
                data = self.ops.read_range(path, read, size)
                try:
                    result = log.scan(data, read)
                except log.Corrupt as exc:
                    raise corrupt(month, name, str(exc)) from None
                docs = opened.setdefault(month, {})
                for record in result.records:
                    head = record.get("h")
                    if head is not None:
                        if head.get("base"):
                            docs.clear()  # a base segment holds the whole month
                        continue
                    if record.get("t") != table:
                        continue
                    for doc_id, doc in (record.get("put") or {}).items():
                        if is_open(doc):
                            docs[doc_id] = doc
                        else:
                            docs.pop(doc_id, None)
                    for doc_id in record.get("del") or ():
                        docs.pop(doc_id, None)
                if result.end != read:
                    seg[name] = [result.end, ino]
                    changed = True
                if not docs:
                    opened.pop(month, None)

        # What the marks say was acknowledged must also have read as good
        # records (not merely be bytes on disk).
        for month, mark in marks.items():
            present = [n for n in by_month.get(month, []) if log.segment_name(month, n) in seg]
            good = lambda n, m=month: seg[log.segment_name(m, n)][0]  # noqa: E731
            self._check(mark, present, good, confirmed)

        for month in list(opened):
            if month not in by_month:
                del opened[month]
                changed = True
        if changed:
            self._save(index)
        return {doc_id: doc for docs in opened.values() for doc_id, doc in docs.items()}

    @staticmethod
    def _check(mark: hwm.Mark, present: list[int], good_end, confirmed: bool, **how: str) -> None:
        detail = hwm.lost_records(mark, present, good_end, **how)
        if detail is None:
            return
        if not confirmed:
            raise _Suspect()
        raise lost(mark.month, detail)

    def _rebuild(self, table: str) -> dict[str, dict]:
        try:
            self.ops.unlink(self.path)
        except FileNotFoundError:
            pass
        return self.refresh(table)

    def _save(self, index: dict) -> None:
        try:
            self.ops.write_new_file(self.path, log.encode(index), durable=False)
        except OSError:
            pass  # a cache: the next run reads the tails again
