"""A sale's refunded amount stays right across crashes and concurrent refunds."""

from __future__ import annotations

import threading

import pytest


def test_a_refund_redone_by_recovery_after_a_crash_counts_once(mpos):
    from mpos_cli.env import Environment
    from mpos_cli.gateway.base import RefundRequest
    from mpos_cli.pos import PointOfSale
    from mpos_cli.records import Records
    from mpos_cli.transaction import TxType, new_transaction_id

    sale = mpos("charge", "20.00", "--json").json()
    with PointOfSale(Environment()) as pos:
        original = pos.journal.get(sale["id"])
        records = Records(pos.journal, pos.env.now)
        refund = records.add_follow_up(
            original, TxType.REFUND, 500, tx_id=new_transaction_id(pos.env.business_date())
        )
        answer = pos.gateway.refund(RefundRequest(refund.reference, original.reference, 500, "EUR"))
        assert answer.approved
        real_update, writes = pos.journal.update, []

        def dies_on_the_second_write(tx):  # the sale is written, the refund's approval is not
            writes.append(tx.id)
            if len(writes) == 2:
                raise KeyboardInterrupt
            real_update(tx)

        pos.journal.update = dies_on_the_second_write
        with pytest.raises(KeyboardInterrupt):
            records.approved_refund(refund, response_code="00")
    assert mpos("journal", "show", sale["id"], "--json").json()["refunded_minor"] == 500
    recovered = mpos("recover", "--json")
    assert recovered.exit_code == 0, recovered
    after = mpos("journal", "show", sale["id"], "--json").json()
    assert (after["status"], after["refunded_minor"]) == ("partially_refunded", 500)
    assert mpos("journal", "show", refund.id, "--json").json()["status"] == "approved"


def test_two_partial_refunds_in_two_processes_are_both_counted(mpos, mpos_process):
    sale = mpos("charge", "20.00", "--json").json()
    results = {}

    def refund(amount: str) -> None:
        results[amount] = mpos_process("refund", sale["id"], "--amount", amount, "--json")

    threads = [threading.Thread(target=refund, args=(amount,)) for amount in ("3.00", "4.00")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result.exit_code == 0 for result in results.values()), results
    after = mpos("journal", "show", sale["id"], "--json").json()
    assert (after["status"], after["refunded_minor"]) == ("partially_refunded", 700)
    assert mpos("journal", "verify").exit_code == 0
