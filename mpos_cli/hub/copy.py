"""The other terminals' transactions, as this terminal last pulled them.

``$MPOS_HOME/hub/copy.sqlite`` (mode 0600; SQLite, from Python's standard
library): a read-only copy for ``--all-terminals`` when the hub cannot be
reached, and the place a pull lands. Only a pull writes it, one SQLite
transaction per batch, which also records how far that terminal's changes
have been pulled, so a pull killed at any moment resumes where it stopped
and the copy never holds half a batch. A copy of another hub (its
``hub_id`` differs) is emptied first. Readers open it read-only.

It is a cache of the hub: deleting it costs one full pull, nothing else.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from mpos_cli.closing import ClosedOnExit
from mpos_cli.storage_util import FILE_MODE, ensure_dir
from mpos_cli.transaction import Transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terminals (
    terminal_id TEXT PRIMARY KEY,
    pulled_seq INTEGER NOT NULL DEFAULT 0,  -- its changes up to here are in this copy
    hub_seq INTEGER NOT NULL DEFAULT 0,     -- its latest change at the hub, when last asked
    pushed_at TEXT                           -- when it last pushed, by the hub's clock
);
CREATE TABLE IF NOT EXISTS transactions (
    terminal_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    business_date TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (terminal_id, id)
);
CREATE INDEX IF NOT EXISTS transactions_by_day ON transactions (business_date, created_utc);
"""


@dataclass
class CopiedTerminal:
    terminal_id: str
    pulled_seq: int
    hub_seq: int
    pushed_at: str | None

    @property
    def behind(self) -> int:
        """Change numbers at the hub not yet in the copy (an upper bound: a
        number can be skipped when a push changed nothing)."""
        return max(0, self.hub_seq - self.pulled_seq)


def _utc(text: str) -> str:
    """An ISO 8601 time with offset as UTC text, which sorts as time does."""
    return datetime.fromisoformat(text).astimezone(timezone.utc).isoformat()


class LocalCopy(ClosedOnExit):
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._db: sqlite3.Connection | None = None

    # -- opening -------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            if self.read_only:
                self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True)
            else:
                ensure_dir(self.path.parent)
                if not self.path.exists():  # born 0600; SQLite gives its journal files the same mode
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
                self._db = sqlite3.connect(self.path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # a cache of the hub: a lost tail is pulled again
                self._db.executescript(SCHEMA)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- what it knows ---------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        if self.read_only and not self.exists:
            return None
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def as_of(self) -> datetime | None:
        """When the last complete pull ended (this terminal's clock)."""
        text = self.meta("pulled_at")
        return datetime.fromisoformat(text) if text else None

    def terminals(self) -> list[CopiedTerminal]:
        if self.read_only and not self.exists:
            return []
        rows = self.db.execute(
            "SELECT terminal_id, pulled_seq, hub_seq, pushed_at FROM terminals ORDER BY terminal_id"
        ).fetchall()
        return [CopiedTerminal(*row) for row in rows]

    def pulled_seq(self, terminal_id: str) -> int:
        row = self.db.execute("SELECT pulled_seq FROM terminals WHERE terminal_id = ?", (terminal_id,)).fetchone()
        return row[0] if row else 0

    # -- pulling into it -----------------------------------------------------------

    def belongs_to(self, hub_id: str, own_terminal: str) -> None:
        """Make this a copy of hub ``hub_id`` seen from ``own_terminal``: a copy
        of another hub, or made for another terminal id, is emptied first."""
        db = self.db
        if self.meta("hub_id") == hub_id and self.meta("terminal_id") == own_terminal:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM transactions")
            db.execute("DELETE FROM terminals")
            db.execute("DELETE FROM meta")
            db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                           [("hub_id", hub_id), ("terminal_id", own_terminal)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def apply(self, terminal_id: str, rows: Iterable[tuple[int, dict]], pulled_seq: int) -> int:
        """Take one pulled batch of ``terminal_id``'s rows and note ``pulled_seq``,
        in one transaction. A row replaces an older version only."""
        db = self.db
        count = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for seq, record in rows:
                db.execute(
                    "INSERT INTO transactions (terminal_id, id, version, seq, business_date, created_utc, status, record)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (terminal_id, id) DO UPDATE SET version = excluded.version, seq = excluded.seq,"
                    " business_date = excluded.business_date, created_utc = excluded.created_utc,"
                    " status = excluded.status, record = excluded.record"
                    " WHERE excluded.seq > transactions.seq",
                    (terminal_id, record["id"], record.get("version") or 0, seq, record["business_date"],
                     _utc(record["created_at"]), record["status"], json.dumps(record, separators=(",", ":"))),
                )
                count += 1
            db.execute(
                "INSERT INTO terminals (terminal_id, pulled_seq) VALUES (?, ?)"
                " ON CONFLICT (terminal_id) DO UPDATE SET pulled_seq = max(terminals.pulled_seq, excluded.pulled_seq)",
                (terminal_id, pulled_seq),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return count

    def note_standings(self, standings: Iterable, *, pulled_at: datetime | None) -> None:
        """What the hub said of each other terminal; ``pulled_at`` when the
        pull that followed it was complete."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for standing in standings:
                db.execute(
                    "INSERT INTO terminals (terminal_id, hub_seq, pushed_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (terminal_id) DO UPDATE SET hub_seq = excluded.hub_seq, pushed_at = excluded.pushed_at",
                    (standing.terminal_id, standing.seq,
                     standing.pushed_at.isoformat() if standing.pushed_at else None),
                )
            if pulled_at is not None:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pulled_at', ?)", (pulled_at.isoformat(),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reading ---------------------------------------------------------------------

    def iter(self, date_from: str | None = None, date_to: str | None = None,
             statuses: set[str] | None = None) -> Iterator[Transaction]:
        """The other terminals' transactions by business day range, in order
        of business day and time, streamed."""
        if self.read_only and not self.exists:
            return
        clauses, params = [], []
        if date_from:
            clauses.append("business_date >= ?")
            params.append(date_from)
        if date_to:
            clauses.append("business_date <= ?")
            params.append(date_to)
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(sorted(statuses))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = self.db.execute(
            f"SELECT record FROM transactions{where} ORDER BY business_date, created_utc, terminal_id, id", params
        )
        for (record,) in cursor:
            yield Transaction.from_record(json.loads(record))
