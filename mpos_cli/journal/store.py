"""The journal: tinydb documents on our own crash-safe, append-only storage.

Layout (``man 5 mpos-files`` describes every file)::

    journal/
      LOCK                    flock()ed by every write (exclusive) and by verify (shared)
      open.idx                cache of the open transactions (rebuilt when missing or stale)
      2026-11.000001.log      month 2026-11, first segment (append-only, checksummed records)
      2026-11.000002.log      ... the next one, after a torn tail or a compaction
      torn/                   torn tails copied aside before a compaction removed their segment

Why not tinydb's stock ``JSONStorage``: it rewrites the whole file in place
on every write (about 0.9 s per insert at 100,000 records) and a crash in the
middle of that rewrite tears the file (tinydb #301, #383; atomic writes were
merged and reverted in #468). Money cannot live with that.

Design:

- **Partitions by month.** A transaction id starts with its business date
  (``20261124-K3Q9FX``), so an id names its month and, within it, its tinydb
  document id (day × 2³⁰ + the six base-32 characters): a lookup opens one
  month and reads one dict entry, no search.
- **Append-only, checksummed.** Each month is one ``JournalDB`` (tinydb)
  over a ``MonthStorage`` (``mpos_cli.journal.storage``): every change is one
  line ``CRC32 JSON`` appended with one ``write`` and one ``fsync``, holding
  only the documents that changed. The cost of a write does not grow with
  the journal. ``add``/``update``/``add_many`` return once it is on disk.
- **Crash-safe.** A write is fully there or not at all: a record that does
  not check out at the very end of the newest segment is a *torn tail* (a
  crash during an append, never acknowledged). Loading returns the last
  acknowledged state without it; it is never truncated or overwritten; the
  next write starts a new segment whose header names the torn one's last
  good byte; ``verify`` reports it (a warning, the journal is clean).
  A bad record with good ones after it, anywhere, is corruption: exit 8
  (``StateUnreadable``) and nothing is ever written to that month.
- **Locking.** Every write holds ``journal/LOCK`` exclusively (fcntl.flock)
  and first reads what other processes appended since (the file tail), so
  several mpos processes at once never lose or corrupt an entry. Waiting
  longer than ``lock_timeout`` raises ``JournalLocked`` (exit 8). Reads take
  no lock: a record still being written is simply not there yet.
- **Reads only what is needed.** ``get``/``find`` open one month;
  ``iter`` opens the months of its range, one at a time, and streams;
  ``open_transactions`` reads ``open.idx`` and only the bytes appended since
  it was written.
- **Compaction.** A month whose log holds many superseded versions is
  rewritten as one *base* segment (temp file, fsync, rename, folder fsync)
  and the older segments are removed (``compact()``, and ``close()`` for a
  month it loaded that is at least half dead). Compaction drops history
  (only the latest state of each transaction is kept).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from tinydb.table import Document

from mpos_cli.closing import ClosedOnExit
from mpos_cli.errors import StateUnreadable, UsageError
from mpos_cli.journal.changes import Change, Cursor, changes_since
from mpos_cli.journal.fileops import FileOps
from mpos_cli.journal.index import OpenIndex
from mpos_cli.journal.lock import JournalLock
from mpos_cli.journal.storage import JournalDB, JournalTable, MonthStorage
from mpos_cli.journal.verify import VerifyReport, partition_months, verify
from mpos_cli.transaction import (
    Card,
    LineItem,
    InvalidTransition,
    Stage,
    Transaction,
    TxStatus,
    TxType,
    change_allowed,
)

__all__ = ["Journal", "VerifyReport", "DuplicateTransaction", "locate"]

TABLE = "transactions"

_ID_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})-([0-9A-HJKMNP-TV-Z]{6})$")
_CROCKFORD = {c: i for i, c in enumerate("0123456789ABCDEFGHJKMNPQRSTVWXYZ")}
_CROCKFORD_READING = str.maketrans("ILO", "110")  # what a person may type for 1 and 0


class DuplicateTransaction(ValueError):
    """``add`` of an id the journal already holds."""


def locate(tx_id: str) -> tuple[str, int] | None:
    """``(month, document id)`` of a transaction id, or None when it is not one."""
    match = _ID_RE.match(tx_id) if isinstance(tx_id, str) else None
    if not match:
        return None
    year, month, day, suffix = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return None
    value = 0
    for char in suffix:
        value = value * 32 + _CROCKFORD[char]
    return f"{year}-{month}", (int(day) << 30) | value


def _require(tx: Transaction) -> tuple[str, int]:
    place = locate(tx.id)
    if place is None:
        raise ValueError(f"{tx.id!r} is not a transaction id (YYYYMMDD-XXXXXX)")
    if tx.id[:8] != tx.business_date.replace("-", ""):
        raise ValueError(f"{tx.id}: the id's date is not its business date {tx.business_date}")
    return place


def _plain_dataclass(cls: type) -> bool:
    return (
        dataclasses.is_dataclass(cls)
        and not hasattr(cls, "__post_init__")
        and "__slots__" not in cls.__dict__
        and all(f.default_factory is dataclasses.MISSING or f.name == "emv_out" for f in dataclasses.fields(cls))
    )


_TX_FIELDS = {f.name for f in dataclasses.fields(Transaction)}
_TX_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Transaction) if f.default is not dataclasses.MISSING}
_CARD_FIELDS = {f.name for f in dataclasses.fields(Card)}
_CARD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Card) if f.default is not dataclasses.MISSING}
_TYPES = {m.value: m for m in TxType}
_STATUSES = {m.value: m for m in TxStatus}
_STAGES = {m.value: m for m in Stage}
FAST_CODEC = _plain_dataclass(Transaction) and _plain_dataclass(Card)
_new = object.__new__
_fromiso = datetime.fromisoformat


def decode_transaction(record: dict) -> Transaction:
    """``Transaction.from_record``, several times faster, for streaming reads.

    Builds the frozen dataclass without calling ``__init__`` (it has no
    ``__post_init__``; checked at import, else the plain path is used), and
    falls back to ``from_record`` for anything unusual, which then raises
    the same errors. A test holds the two to the same results.
    """
    if not FAST_CODEC:
        return Transaction.from_record(record)
    data = {**_TX_DEFAULTS, **record}
    if len(data) != len(_TX_FIELDS) or data.keys() != _TX_FIELDS:
        return Transaction.from_record(record)
    try:
        data["type"] = _TYPES[data["type"]]
        data["status"] = _STATUSES[data["status"]]
        data["stage"] = _STAGES[record["stage"]] if "stage" in record else Stage.DONE
        data["created_at"] = _fromiso(data["created_at"])
        if data["updated_at"]:
            data["updated_at"] = _fromiso(data["updated_at"])
        card = data["card"]
        if card:
            card_data = {**_CARD_DEFAULTS, **card}
            if card_data.keys() != _CARD_FIELDS:
                return Transaction.from_record(record)
            card_obj = _new(Card)
            card_obj.__dict__.update(card_data)
            data["card"] = card_obj
        data["emv_out"] = dict(data["emv_out"] or {})
        items = data["items"]
        data["items"] = tuple(_line_item(item) for item in items) if items else ()
        if data["qr"]:
            data["qr"] = dict(data["qr"])
    except (KeyError, TypeError, ValueError):
        return Transaction.from_record(record)
    tx = _new(Transaction)
    tx.__dict__.update(data)
    return tx


def _line_item(record: dict) -> LineItem:
    item = _new(LineItem)
    item.__dict__.update(name=record["name"], quantity=record["quantity"], unit_minor=record["unit_minor"],
                         vat_basis_points=record.get("vat_basis_points"))
    return item


def encode_transaction(tx: Transaction) -> dict:
    """``tx.to_record()``, several times faster (``dataclasses.asdict``
    deep-copies every value); same fallback rule and same test as
    ``decode_transaction``."""
    data = tx.__dict__
    if not FAST_CODEC or data.keys() != _TX_FIELDS:
        return tx.to_record()
    record = dict(data)
    try:
        record["type"] = str(tx.type)
        record["status"] = str(tx.status)
        record["stage"] = str(tx.stage)
        record["created_at"] = tx.created_at.isoformat()
        record["updated_at"] = tx.updated_at.isoformat() if tx.updated_at else None
        card = tx.card
        if card is not None:
            card_data = card.__dict__
            if card_data.keys() != _CARD_FIELDS or not all(
                v is None or type(v) in (str, int, float, bool) for v in card_data.values()
            ):
                return tx.to_record()
            record["card"] = dict(card_data)
        if not all(type(k) is str and type(v) is str for k, v in tx.emv_out.items()):
            return tx.to_record()
        record["emv_out"] = dict(tx.emv_out)
        record["items"] = [item.to_public() for item in tx.items]
        if tx.qr is not None:
            if not all(type(k) is str and type(v) is str for k, v in tx.qr.items()):
                return tx.to_record()
            record["qr"] = dict(tx.qr)
    except (AttributeError, TypeError):
        return tx.to_record()
    for key, value in record.items():
        if not (value is None or type(value) in (str, int, float, bool) or key in ("card", "emv_out", "items", "qr")):
            return tx.to_record()
    return record


def _check_change(tx_id: str, stored: dict, record: dict) -> None:
    """Refuse (``InvalidTransition``) a change the lifecycle tables
    (``mpos_cli.transaction``) do not allow from what the journal holds."""
    old = (stored["status"], stored.get("stage", "done"))
    new = (record["status"], record.get("stage", "done"))
    if old != new and not change_allowed(TxStatus(old[0]), Stage(old[1]), TxStatus(new[0]), Stage(new[1])):
        raise InvalidTransition(
            f"{tx_id}: the journal holds it as {old[0]} (stage {old[1]}); "
            f"{old[0]} → {new[0]} (stage {old[1]} → {new[1]}) is not allowed"
        )


def _records_by_month(txs: Iterable[Transaction]) -> dict[str, dict[int, dict]]:
    """Encoded records grouped by partition, for the bulk writes; an id twice
    in one batch is refused (which of the two would win is not obvious)."""
    groups: dict[str, dict[int, dict]] = {}
    for tx in txs:
        month, doc_id = _require(tx)
        month_records = groups.setdefault(month, {})
        if doc_id in month_records:
            raise DuplicateTransaction(f"{tx.id} appears twice in the batch")
        month_records[doc_id] = encode_transaction(tx)
    return groups


class _Partition:
    def __init__(self, journal: "Journal", month: str) -> None:
        self.db = JournalDB(journal.directory, month, storage=MonthStorage, ops=journal.ops, lock=journal.lock)
        self.table: JournalTable = self.db.table(TABLE)
        self.storage: MonthStorage = self.db.storage

    def close(self) -> None:
        self.db.close()


class Journal(ClosedOnExit):
    """Every transaction and every change to it (see the module docstring)."""

    def __init__(self, directory: Path, *, lock_timeout: float = 10.0, ops: FileOps | None = None) -> None:
        self.ops = ops or FileOps()
        self.directory = Path(directory)
        try:
            self.ops.mkdir(self.directory)
        except OSError as exc:
            raise StateUnreadable(
                f"cannot open the journal folder {self.directory}: {exc.strerror or exc}",
                hint="check that it exists and belongs to you",
            ) from exc
        self.lock_timeout = lock_timeout
        self.lock = JournalLock(self.directory / "LOCK", lock_timeout, self.ops)
        self._parts: dict[str, _Partition] = {}
        self._index = OpenIndex(self.directory, self.ops, self.lock)

    # -- partitions ------------------------------------------------------------

    def _part(self, month: str) -> _Partition:
        part = self._parts.get(month)
        if part is None:
            part = self._parts[month] = _Partition(self, month)
        return part

    def months(self) -> list[str]:
        """The months that have a partition (segments, or a high-water mark
        whose segments are gone: reading it then says so), oldest first."""
        return partition_months(self._listdir())

    def _listdir(self) -> list[str]:
        try:
            return self.ops.listdir(self.directory)
        except FileNotFoundError:
            return []

    # -- writing -----------------------------------------------------------------

    def add(self, tx: Transaction) -> None:
        """Record a new transaction; durable (fsynced) on return."""
        month, doc_id = _require(tx)
        part = self._part(month)
        record = encode_transaction(tx)
        record["version"] = 1  # the journal counts each transaction's writes (Transaction.version)
        with self.lock:
            if part.table.contains(doc_id=doc_id):
                raise DuplicateTransaction(f"{tx.id} is already in the journal")
            part.table.insert(Document(record, doc_id=doc_id))

    def update(self, tx: Transaction) -> None:
        """Record a new state of a known transaction; durable on return.

        Refuses (``InvalidTransition``) a status change ``TRANSITIONS`` does
        not allow from the state the journal holds, whoever wrote it.
        """
        month, doc_id = _require(tx)
        part = self._part(month)
        record = encode_transaction(tx)
        with self.lock:
            stored = part.table.get(doc_id=doc_id)
            if stored is None or stored.get("id") != tx.id:
                raise UsageError(f"no transaction {tx.id!r} in the journal to update")
            _check_change(tx.id, stored, record)
            record["version"] = stored.get("version", 0) + 1

            def replace(doc: dict) -> None:
                doc.clear()
                doc.update(record)

            part.table.update(replace, doc_ids=[doc_id])

    def update_many(self, txs: Iterable[Transaction]) -> int:
        """Record new states of many known transactions: one append and one
        fsync per month (settlement stamps a whole batch this way).

        Every change is checked against the stored state first, as in
        ``update``; if one is refused, nothing is written.
        """
        def check(live: dict, doc_id: int, record: dict) -> None:
            stored = live.get(str(doc_id))
            if stored is None or stored.get("id") != record["id"]:
                raise UsageError(f"no transaction {record['id']!r} in the journal to update")
            _check_change(record["id"], stored, record)
            record["version"] = stored.get("version", 0) + 1

        return self._write_by_month(txs, check, lambda table, records: table.replace_documents(records))

    def add_many(self, txs: Iterable[Transaction]) -> int:
        """Record many new transactions: one append and one fsync per month.

        Each month's batch is all there or not at all; months are written
        oldest first. Returns how many were added.
        """
        def check(live: dict, doc_id: int, record: dict) -> None:
            if str(doc_id) in live:
                raise DuplicateTransaction(f"{record['id']} is already in the journal")
            record["version"] = 1

        def insert(table: JournalTable, records: dict[int, dict]) -> None:
            table.insert_multiple(Document(record, doc_id=doc_id) for doc_id, record in records.items())

        return self._write_by_month(txs, check, insert)

    def _write_by_month(self, txs: Iterable[Transaction], check: Callable[[dict, int, dict], None],
                        write: Callable[[JournalTable, dict[int, dict]], None]) -> int:
        """``check`` every record against its month's live documents (it
        raises to refuse one, and nothing is written), then ``write`` each
        month's records, oldest month first. Returns how many were written."""
        groups = _records_by_month(txs)
        with self.lock:
            parts = {month: self._part(month) for month in groups}
            for month in sorted(groups):  # check everything before writing anything
                live = parts[month].storage.live(TABLE)
                for doc_id, record in groups[month].items():
                    check(live, doc_id, record)
            for month in sorted(groups):
                write(parts[month].table, groups[month])
        if groups:
            self._index.refresh(TABLE)  # so the next open_transactions() has nothing to catch up
        return sum(len(records) for records in groups.values())

    # -- reading -----------------------------------------------------------------

    def find(self, tx_id: str) -> Transaction | None:
        place = locate(tx_id)
        if place is None:
            return None
        month, doc_id = place
        part = self._parts.get(month)
        if part is None:
            if month not in self.months():
                return None
            part = self._part(month)
        doc = part.table.get(doc_id=doc_id)
        if doc is None or doc.get("id") != tx_id:
            return None
        return Transaction.from_record(doc)

    def get(self, tx_id: str) -> Transaction:
        tx = self.find(tx_id)
        if tx is None:
            raise UsageError(f"no transaction {tx_id!r} in the journal", hint="see mpos journal list")
        return tx

    def resolve(self, ref: str) -> Transaction:
        """The transaction a person means by ``ref`` (SPEC §3): a whole id, a
        unique prefix of an id's random part (``K3Q``), in any case, or
        ``last`` (the newest). Crockford's base 32 reads I and L as 1 and O
        as 0. Nothing, or more than one: a UsageError (exit 2) saying which."""
        text = (ref or "").strip()
        if text.lower() == "last":
            newest = self.newest()
            if newest is None:
                raise UsageError("the journal is empty: there is no last transaction")
            return newest
        wanted = text.upper().translate(_CROCKFORD_READING)
        if locate(wanted) is not None:
            return self.get(wanted)
        date_part, dash, random_part = wanted.rpartition("-")
        if not random_part or not all(c in _CROCKFORD for c in random_part) or (dash and not date_part.isdigit()):
            raise UsageError(f"{ref!r} is not a transaction id",
                             hint="give an id (20261124-K3Q9FX), the start of its last part (K3Q) or last")
        matches = [
            doc["id"] for doc in self._documents()
            if doc.get("id", "").partition("-")[2].startswith(random_part)
            and (not date_part or doc["id"].startswith(date_part))
        ]
        if not matches:
            raise UsageError(f"no transaction matches {ref!r}", hint="see mpos journal list")
        if len(matches) > 1:
            shown = ", ".join(sorted(matches)[:10]) + (", …" if len(matches) > 10 else "")
            raise UsageError(f"{ref!r} matches {len(matches)} transactions: {shown}", hint="type more of the id")
        return self.get(matches[0])

    def newest(self) -> Transaction | None:
        """The transaction created last (``last``), from the newest month that has any."""
        for month in reversed(self.months()):
            docs = list(self._documents([month]))
            if docs:
                return decode_transaction(max(docs, key=lambda doc: (doc.get("created_at", ""), doc["id"])))
        return None

    def _documents(self, months: list[str] | None = None) -> Iterator[dict]:
        for month in months if months is not None else self.months():
            for _, doc in self._snapshot(month):
                yield doc

    def _snapshot(self, month: str):
        """``(doc_id, document)`` pairs of one month as it stands; a month not
        open in this journal is opened for the read and closed again."""
        part = self._parts.get(month)
        if part is not None:
            return part.table.snapshot()
        part = _Partition(self, month)
        try:
            return part.table.snapshot()
        finally:
            part.close()

    def iter(
        self,
        date_from: str | None = None,
        date_to: str | None = None,
        status: TxStatus | str | Iterable[TxStatus | str] | None = None,
        *,
        where: Callable[[dict], bool] | None = None,
    ) -> Iterator[Transaction]:
        """Transactions by business date range (inclusive, ``YYYY-MM-DD``) and
        status (one or several), month by month in the order they were added.

        Opens only the months in range, one at a time. ``where`` is any
        tinydb query (``tinydb.Query().currency == "EUR"``) for more.
        """
        if status is None:
            statuses = None
        elif isinstance(status, str):
            statuses = {str(status)}
        else:
            statuses = {str(s) for s in status}
        low = date_from[:7] if date_from else None
        high = date_to[:7] if date_to else None
        for month in self.months():
            if (low and month < low) or (high and month > high):
                continue
            for doc_id, doc in self._snapshot(month):
                if statuses is not None and doc.get("status") not in statuses:
                    continue
                day = doc.get("business_date", "")
                if (date_from and day < date_from) or (date_to and day > date_to):
                    continue
                if where is not None and not where(Document(doc, int(doc_id))):
                    continue
                yield decode_transaction(doc)

    def open_transactions(self) -> list[Transaction]:
        """Pending, offline or reversal due: what recovery and forwarding must
        look at. Reads ``open.idx`` and only what was appended since."""
        docs = self._index.refresh(TABLE)
        return sorted((Transaction.from_record(doc) for doc in docs.values()), key=lambda tx: tx.id)

    def changes(self, cursor: Cursor) -> Iterator[Change]:
        """Every journal record written after ``cursor`` (``mpos_cli.journal.changes``):
        what a sync pushes. Takes no lock and streams; ``cursor`` is left for
        the caller to advance."""
        return changes_since(self.ops, self.directory, cursor, TABLE)

    def notices(self) -> list[str]:
        """Torn tails found in the months this journal has read."""
        out = []
        for month, part in sorted(self._parts.items()):
            out.extend(tail.describe(month) for tail in part.storage.torn_tails)
        return out

    # -- maintenance -------------------------------------------------------------

    def verify(self, *, fast: bool = False) -> VerifyReport:
        """Check every partition and every transaction (``fast``: the
        storage checks only; see ``verify.py``)."""
        self.lock.acquire(shared=True)
        try:
            return verify(self.ops, self.directory, TABLE, locate, fast=fast)
        finally:
            self.lock.release()

    def compact(self, month: str | None = None) -> list[str]:
        """Rewrite months (all, or one) as single base segments; returns those rewritten."""
        done = []
        with self.lock:
            for name in [month] if month else self.months():
                part = self._part(name)
                if part.storage.compact():
                    done.append(name)
        return done

    def close(self) -> None:
        """Compact what is worth it (if nobody else is writing), then let go."""
        try:
            bloated = [m for m, p in self._parts.items() if p.storage.bloated()]
            if bloated and self.lock.acquire(blocking=False):
                try:
                    for month in bloated:
                        self._parts[month].storage.compact()
                finally:
                    self.lock.release()
        except (OSError, StateUnreadable):
            pass  # compaction is an optimisation; the journal is whole without it
        finally:
            for part in self._parts.values():
                part.close()
            self._parts.clear()
            self.lock.close()

