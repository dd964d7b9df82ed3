"""Bulk updates (settlement stamps a whole batch): one append per month, all or nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mpos_cli.journal import Journal
from mpos_cli.transaction import InvalidTransition, Transaction, TxStatus, TxType, new_transaction_id


def _sales(count: int, day: str) -> list[Transaction]:
    now = datetime.fromisoformat(f"{day}T12:00:00+00:00")
    return [
        Transaction(
            id=new_transaction_id(day), type=TxType.SALE, status=TxStatus.APPROVED, amount_minor=100 + n,
            tip_minor=0, currency="EUR", created_at=now, business_date=day, sandbox=True,
        )
        for n in range(count)
    ]


def _log_lines(directory) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in directory.glob("*.log"))


def test_update_many_stamps_every_transaction_with_one_record_per_month(tmp_path):
    journal = Journal(tmp_path)
    sales = _sales(50, "2026-10-30") + _sales(50, "2026-11-02")
    journal.add_many(sales)
    before = _log_lines(tmp_path)
    assert journal.update_many(tx.with_changes(batch_id="B1") for tx in sales) == 100
    assert _log_lines(tmp_path) - before == 2  # one appended record per month
    journal.close()
    reopened = Journal(tmp_path)
    assert {tx.batch_id for tx in reopened.iter()} == {"B1"}
    assert reopened.verify().clean


def test_update_many_writes_nothing_when_one_change_is_refused(tmp_path):
    journal = Journal(tmp_path)
    sales = _sales(3, "2026-11-02")
    journal.add_many(sales)
    changes = [tx.with_changes(batch_id="B1") for tx in sales[:2]] + [sales[2].with_changes(status=TxStatus.PENDING)]
    with pytest.raises(InvalidTransition):
        journal.update_many(changes)
    assert {tx.batch_id for tx in Journal(tmp_path).iter()} == {None}
