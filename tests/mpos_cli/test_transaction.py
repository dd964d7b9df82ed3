from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mpos_cli.transaction import InvalidTransition, Transaction, TxStatus, TxType, new_transaction_id


def _tx(status=TxStatus.PENDING) -> Transaction:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    return Transaction(
        id=new_transaction_id("2026-11-24"), type=TxType.SALE, status=status, amount_minor=100, tip_minor=0,
        currency="EUR", created_at=now, business_date="2026-11-24", sandbox=True,
    )


def test_ids_carry_their_business_date():
    assert new_transaction_id("2026-11-24").startswith("20261124-")


def test_allowed_and_refused_transitions():
    approved = _tx().moved_to(TxStatus.APPROVED)
    assert approved.moved_to(TxStatus.PARTIALLY_REFUNDED).moved_to(TxStatus.REFUNDED).status == TxStatus.REFUNDED
    for final in (TxStatus.DECLINED, TxStatus.CANCELLED, TxStatus.VOIDED):
        with pytest.raises(InvalidTransition):
            _tx(final).moved_to(TxStatus.APPROVED)
    with pytest.raises(InvalidTransition):
        approved.moved_to(TxStatus.PENDING)


def test_record_round_trip_keeps_every_field():
    tx = _tx().moved_to(TxStatus.APPROVED, auth_code="A1B2C3", emv_out={"95": "0000000000"})
    assert Transaction.from_record(tx.to_record()) == tx
    assert tx.to_public()["created_at"].endswith("+00:00")
