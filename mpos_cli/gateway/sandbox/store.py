"""The sandbox acquirer's ledger: SQLite under the home, shared by processes.

Several processes use one file at once (every CLI run embeds a server, and
``mpos sandbox serve`` may run beside them), so: WAL, a busy timeout, one
short connection per request, and every write in ``BEGIN IMMEDIATE`` so two
writers never both read-then-write the same row.

What is kept (SPEC §8): masked PAN, scheme, amounts, codes, the SHA-256 of
each request body for idempotency, and the answer sent. Never a PAN, a card
blob, a PIN block or a cryptogram key.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from mpos_cli.storage_util import FILE_MODE, ensure_dir

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    reference TEXT PRIMARY KEY,           -- the client's reference (idempotency key)
    acquirer_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                   -- sale | refund | void
    original_reference TEXT,              -- refunds and voids
    amount_minor INTEGER NOT NULL,
    tip_minor INTEGER NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    response_code TEXT NOT NULL,
    auth_code TEXT,
    message TEXT,
    refunded_minor INTEGER NOT NULL DEFAULT 0,
    reversed_at TEXT,
    reversal_reason TEXT,
    voided_by TEXT,
    batch_reference TEXT,
    masked_pan TEXT,
    scheme TEXT,
    entry_mode TEXT,
    cvm TEXT,
    deferred INTEGER NOT NULL DEFAULT 0,
    captured_at TEXT,
    received_at TEXT NOT NULL,
    business_date TEXT NOT NULL,
    merchant_id TEXT,
    terminal_id TEXT,
    emv_response TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS operations_open ON operations (batch_reference, business_date);
CREATE INDEX IF NOT EXISTS operations_original ON operations (original_reference);

-- Authorisations, refunds and voids share one key space: the client's reference.
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Reversals of references the acquirer never saw (ISO 8583 0420 before 0100):
-- an authorisation arriving later under such a reference is not honoured.
CREATE TABLE IF NOT EXISTS orphan_reversals (
    reference TEXT PRIMARY KEY,
    reason TEXT,
    received_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS batches (
    batch_reference TEXT PRIMARY KEY,
    business_date TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    answer TEXT NOT NULL
);
"""

OPERATION_COLUMNS = (
    "reference", "acquirer_id", "kind", "original_reference", "amount_minor", "tip_minor", "currency",
    "response_code", "auth_code", "message", "refunded_minor", "reversed_at", "reversal_reason", "voided_by",
    "batch_reference", "masked_pan", "scheme", "entry_mode", "cvm", "deferred", "captured_at", "received_at",
    "business_date", "merchant_id", "terminal_id", "emv_response",
)


def database_path(data_dir: Path) -> Path:
    return Path(data_dir) / "sandbox" / "acquirer.sqlite3"


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def new_acquirer_id() -> str:
    return f"sbx_{secrets.token_hex(8)}"


@dataclass
class Operation:
    """One row of ``operations``: a sale, a refund or a void."""

    reference: str
    acquirer_id: str
    kind: str
    original_reference: str | None
    amount_minor: int
    tip_minor: int
    currency: str
    response_code: str
    auth_code: str | None
    message: str | None
    refunded_minor: int
    reversed_at: str | None
    reversal_reason: str | None
    voided_by: str | None
    batch_reference: str | None
    masked_pan: str | None
    scheme: str | None
    entry_mode: str | None
    cvm: str | None
    deferred: int
    captured_at: str | None
    received_at: str
    business_date: str
    merchant_id: str | None
    terminal_id: str | None
    emv_response: str

    @property
    def total_minor(self) -> int:
        return self.amount_minor + self.tip_minor

    @property
    def approved(self) -> bool:
        return self.response_code == "00"

    @property
    def status(self) -> str:
        """approved | declined | reversed | refunded | partially_refunded | settled."""
        if self.reversed_at:
            return "reversed"
        if not self.approved:
            return "declined"
        if self.kind == "sale" and self.refunded_minor > 0:
            return "refunded" if self.refunded_minor >= self.total_minor else "partially_refunded"
        if self.batch_reference:
            return "settled"
        return "approved"

    def as_answer(self, message: str | None = None) -> dict[str, Any]:
        """The JSON every endpoint answers about one operation (man mpos-gateway-api)."""
        return {
            "reference": self.reference,
            "acquirer_id": self.acquirer_id,
            "type": self.kind,
            "original_reference": self.original_reference,
            "status": self.status,
            "approved": self.approved,
            "response_code": self.response_code,
            "auth_code": self.auth_code,
            "message": message if message is not None else self.message,
            "amount_minor": self.amount_minor,
            "tip_minor": self.tip_minor,
            "total_minor": self.total_minor,
            "refunded_minor": self.refunded_minor,
            "currency": self.currency,
            "masked_pan": self.masked_pan,
            "scheme": self.scheme,
            "entry_mode": self.entry_mode,
            "deferred": bool(self.deferred),
            "captured_at": self.captured_at,
            "received_at": self.received_at,
            "business_date": self.business_date,
            "batch_reference": self.batch_reference,
            "voided_by": self.voided_by,
            "reversal_reason": self.reversal_reason,
            "emv": json.loads(self.emv_response or "{}"),
        }


def _create_private_file(path: Path) -> None:
    """The database file exists with mode 0600 before SQLite opens it; SQLite
    gives its -wal and -shm files the database file's mode."""
    ensure_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


class SandboxStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        _create_private_file(self.path)
        with self.connection() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Every statement is IF NOT EXISTS: two processes creating it at once is harmless.
                conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        for suffix in ("-wal", "-shm"):
            companion = self.path.with_name(self.path.name + suffix)
            if companion.exists():
                os.chmod(companion, FILE_MODE)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: an approval the acquirer answered survives a power cut.
            conn.execute("PRAGMA synchronous = FULL")
            conn.row_factory = sqlite3.Row
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with the write lock from the start."""
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- rows ----------------------------------------------------------------

    @staticmethod
    def get(conn: sqlite3.Connection, reference: str) -> Operation | None:
        row = conn.execute("SELECT * FROM operations WHERE reference = ?", (reference,)).fetchone()
        return Operation(**{name: row[name] for name in OPERATION_COLUMNS}) if row else None

    @staticmethod
    def insert(conn: sqlite3.Connection, op: Operation) -> None:
        placeholders = ", ".join("?" for _ in OPERATION_COLUMNS)
        conn.execute(
            f"INSERT INTO operations ({', '.join(OPERATION_COLUMNS)}) VALUES ({placeholders})",
            tuple(getattr(op, name) for name in OPERATION_COLUMNS),
        )

    @staticmethod
    def update(conn: sqlite3.Connection, reference: str, **changes: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        conn.execute(f"UPDATE operations SET {assignments} WHERE reference = ?", (*changes.values(), reference))

    def ledger(self) -> list[dict[str, Any]]:
        with self.connection() as conn:
            rows = conn.execute("SELECT * FROM operations ORDER BY received_at, rowid").fetchall()
        return [Operation(**{name: row[name] for name in OPERATION_COLUMNS}).as_answer() for row in rows]

    # -- idempotency -----------------------------------------------------------

    @staticmethod
    def saved_answer(conn: sqlite3.Connection, key: str) -> tuple[str, int, str] | None:
        row = conn.execute("SELECT body_sha256, status, answer FROM idempotency WHERE key = ?", (key,)).fetchone()
        return (row["body_sha256"], row["status"], row["answer"]) if row else None

    @staticmethod
    def save_answer(conn: sqlite3.Connection, key: str, body_sha256: str, status: int, answer: str) -> None:
        conn.execute(
            "INSERT INTO idempotency (key, body_sha256, status, answer, created_at) VALUES (?, ?, ?, ?, ?)",
            (key, body_sha256, status, answer, now_iso()),
        )
