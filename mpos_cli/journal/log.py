"""The journal's on-disk record format (see ``man 5 mpos-files``).

A segment file is a sequence of lines; each line is one record::

    <crc32 of the JSON, 8 lowercase hex digits> <space> <JSON object> <LF>

The JSON is ASCII (``ensure_ascii``), so a record never contains a raw
newline and a line is a record. The first record of every segment is its
header ``{"h": {...}}``; every other record is a change
``{"t": TABLE, "put": {DOC_ID: DOCUMENT, ...}, "del": [DOC_ID, ...]}``
written by one append (one ``write`` and one ``fsync``).

``scan`` splits bytes into records and classifies what does not parse:

- bad bytes followed by at least one good record: corruption in the middle
  (``Corrupt``): the journal refuses to load, and nothing is ever written;
- bad or unterminated bytes with nothing good after them: the *tail*, i.e. an
  append that never completed. Its fate is decided by the caller (in flight
  when read without the lock, torn when read under it).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

MAGIC = "mpos-journal"
VERSION = 1

SEGMENT_RE = re.compile(r"^(\d{4}-\d{2})\.(\d{6})\.log$")
# Other stores on the same storage (the item catalogue) name their one
# partition with a word instead of a month: ``items.000001.log``.
NAMED_SEGMENT_RE = re.compile(r"^(\d{4}-\d{2}|[a-z][a-z0-9_]*)\.(\d{6})\.log$")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode
_loads = json.loads
_crc32 = zlib.crc32


class Corrupt(Exception):
    """A record that fails its checksum with good records after it."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"bad record at byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


def segment_name(month: str, number: int) -> str:
    return f"{month}.{number:06d}.log"


def parse_segment_name(name: str, *, named: bool = False) -> tuple[str, int] | None:
    """(month, number) of a journal segment; with ``named``, also a named
    partition's (``items.000001.log``)."""
    match = (NAMED_SEGMENT_RE if named else SEGMENT_RE).match(name)
    if not match:
        return None
    return match.group(1), int(match.group(2))


def encode(obj: Any) -> bytes:
    body = _dumps(obj).encode("ascii")
    return b"%08x " % _crc32(body) + body + b"\n"


def decode(line: bytes) -> dict | None:
    """One line without its LF; None when it is not a good record."""
    if len(line) < 11 or line[8] != 0x20:
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != _crc32(body):
            return None
        record = _loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


@dataclass
class Scan:
    records: list[dict] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # where each record starts
    end: int = 0  # offset just after the last good record
    tail: int = 0  # bytes after ``end`` that are not a good, complete record


def scan(data: bytes, base: int = 0, *, with_offsets: bool = False) -> Scan:
    """Split ``data`` (which starts at file offset ``base``) into records."""
    result = Scan(end=base)
    records = result.records
    append = records.append
    pos = 0
    size = len(data)
    find = data.find
    crc32 = _crc32
    loads = _loads
    while pos < size:
        nl = find(b"\n", pos)
        if nl < 0:
            break  # an unterminated tail
        # Fast path, inlined: checksum and parse.
        record = None
        if nl - pos >= 11 and data[pos + 8] == 0x20:
            body = data[pos + 9 : nl]
            try:
                if int(data[pos : pos + 8], 16) == crc32(body):
                    record = loads(body)
            except ValueError:
                record = None
        if not isinstance(record, dict):
            _check_nothing_good_after(data, nl + 1, base, base + pos)
            break
        append(record)
        if with_offsets:
            result.offsets.append(base + pos)
        pos = nl + 1
    result.end = base + pos
    result.tail = size - pos
    return result


def _check_nothing_good_after(data: bytes, pos: int, base: int, bad_at: int) -> None:
    size = len(data)
    while pos < size:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return
        if decode(data[pos:nl]) is not None:
            raise Corrupt(bad_at, f"checksum or format error, with a good record at byte {base + pos} after it")
        pos = nl + 1


def header(month: str, number: int, *, base: bool, after: dict | None) -> dict:
    """``base``: a compaction snapshot that holds the whole month (older
    segments are superseded). ``after``: this segment was started because the
    previous one ends in a torn tail: ``{"segment": NAME, "end": OFFSET}``
    names the last good byte there, so that tail is known and accepted."""
    return {"h": {"format": MAGIC, "version": VERSION, "month": month, "segment": number, "base": base, "after": after}}
