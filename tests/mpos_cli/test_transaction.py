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


# -- the sale lifecycle: stages ---------------------------------------------------


def test_every_stage_reaches_done_and_done_is_final():
    from mpos_cli.transaction import STAGE_TRANSITIONS, Stage

    assert set(STAGE_TRANSITIONS) == set(Stage)
    for stage in Stage:
        assert Stage.DONE in STAGE_TRANSITIONS[stage]
    assert STAGE_TRANSITIONS[Stage.DONE] == {Stage.DONE}


def test_nothing_that_may_have_reached_the_acquirer_goes_back():
    from mpos_cli.transaction import STAGE_TRANSITIONS, Stage, TxStatus, change_allowed

    for stage in (Stage.SENT, Stage.AUTHORISED, Stage.REVERSAL_DUE, Stage.STORED):
        assert Stage.INTENT not in STAGE_TRANSITIONS[stage]
    # An authorised sale cannot be stored offline, nor a stored one reversed without an answer.
    assert not change_allowed(TxStatus.PENDING, Stage.AUTHORISED, TxStatus.OFFLINE, Stage.STORED)
    assert not change_allowed(TxStatus.OFFLINE, Stage.STORED, TxStatus.OFFLINE, Stage.REVERSAL_DUE)
    # The flow's own path is allowed, step by step.
    path = [(TxStatus.PENDING, Stage.INTENT), (TxStatus.PENDING, Stage.SENT), (TxStatus.PENDING, Stage.AUTHORISED),
            (TxStatus.APPROVED, Stage.DONE), (TxStatus.VOIDED, Stage.DONE)]
    for (old_status, old_stage), (new_status, new_stage) in zip(path, path[1:]):
        assert change_allowed(old_status, old_stage, new_status, new_stage)


def test_the_journal_refuses_a_stage_the_table_does_not_allow(tmp_path):
    import pytest

    from mpos_cli.journal import Journal
    from mpos_cli.transaction import InvalidTransition, Stage, TxStatus

    tx = _tx()
    with Journal(tmp_path / "journal") as journal:
        journal.add(tx)
        journal.update(tx.with_changes(stage=Stage.SENT))
        with pytest.raises(InvalidTransition, match="stage sent → intent"):
            journal.update(tx.with_changes(stage=Stage.INTENT))
        done = tx.moved_to(TxStatus.FAILED, stage=Stage.DONE)
        journal.update(done)
        with pytest.raises(InvalidTransition):
            journal.update(done.with_changes(stage=Stage.REVERSAL_DUE))
        assert journal.get(tx.id).stage == Stage.DONE
