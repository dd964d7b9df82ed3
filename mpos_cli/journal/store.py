"""FIRST CUT: tinydb with its stock storage, one file per month. To be
replaced by the crash-safe append-only storage (issue 6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mpos_cli.errors import StateUnreadable, UsageError
from mpos_cli.storage_util import ensure_dir
from mpos_cli.transaction import Stage, Transaction, TxStatus


@dataclass
class VerifyReport:
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


class Journal:
    def __init__(self, directory: Path, *, lock_timeout: float = 10.0) -> None:
        self.directory = ensure_dir(directory)
        self.lock_timeout = lock_timeout
        self._dbs: dict[str, object] = {}

    def _db(self, month: str):
        from tinydb import TinyDB

        if month not in self._dbs:
            try:
                self._dbs[month] = TinyDB(self.directory / f"{month}.json")
            except ValueError as exc:
                raise StateUnreadable(f"journal partition {month} is corrupt: {exc}") from exc
        return self._dbs[month]

    @staticmethod
    def _month_of(tx_id: str) -> str:
        return f"{tx_id[0:4]}-{tx_id[4:6]}"

    def add(self, tx: Transaction) -> None:
        self._db(self._month_of(tx.id)).insert(tx.to_record())

    def update(self, tx: Transaction) -> None:
        from tinydb import Query

        self._db(self._month_of(tx.id)).update(tx.to_record(), Query().id == tx.id)

    def find(self, tx_id: str) -> Transaction | None:
        from tinydb import Query

        if len(tx_id) < 8 or not tx_id[:8].isdigit():
            return None
        path = self.directory / f"{self._month_of(tx_id)}.json"
        if not path.exists():
            return None
        rows = self._db(self._month_of(tx_id)).search(Query().id == tx_id)
        return Transaction.from_record(rows[0]) if rows else None

    def get(self, tx_id: str) -> Transaction:
        tx = self.find(tx_id)
        if tx is None:
            raise UsageError(f"no transaction {tx_id!r} in the journal", hint="see mpos journal list")
        return tx

    def iter(self, date_from: str | None = None, date_to: str | None = None, status=None) -> Iterator[Transaction]:
        for path in sorted(self.directory.glob("*.json")):
            for row in self._db(path.stem).all():
                tx = Transaction.from_record(row)
                if date_from and tx.business_date < date_from:
                    continue
                if date_to and tx.business_date > date_to:
                    continue
                if status and tx.status != status:
                    continue
                yield tx

    def open_transactions(self) -> list[Transaction]:
        return [
            tx
            for tx in self.iter()
            if tx.status in (TxStatus.PENDING, TxStatus.OFFLINE) or tx.stage == Stage.REVERSAL_DUE
        ]

    def verify(self) -> VerifyReport:
        report = VerifyReport()
        for _ in self.iter():
            report.records += 1
        return report

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()
