"""A sale's refunded amount stays right across crashes and concurrent refunds,
with each acquirer (the ``acquirer`` fixture: the sandbox, the fakes of
Cybersource and Authorize.Net), in the journal and at the acquirer alike."""

from __future__ import annotations

import threading

import pytest

from tests.helpers.agreement import disagreements, journal_transactions


@pytest.fixture
def reached(acquirer, monkeypatch):
    """The CLI pointed at ``acquirer``."""
    for name, value in acquirer.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPOS_GATEWAY_TIMEOUT", "5")
    yield acquirer
    assert acquirer.refused_requests() == []


def _settled_sale(mpos, acquirer, amount: str) -> dict:
    sale = mpos("charge", amount, "--json")
    assert sale.exit_code == 0, sale
    acquirer.settle_pending()  # the daily cut-off: Authorize.Net refunds settled sales only
    return sale.json()


def test_a_refund_redone_by_recovery_after_a_crash_counts_once(mpos, reached, isolated_home):
    from mpos_cli.env import Environment
    from mpos_cli.gateway.base import RefundRequest
    from mpos_cli.pos import PointOfSale
    from mpos_cli.records import Records
    from mpos_cli.transaction import TxType, new_transaction_id

    sale = _settled_sale(mpos, reached, "20.00")
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
    assert reached.entry(sale["id"])["refunded_minor"] == 500  # refunded once at the acquirer too
    assert disagreements(journal_transactions(isolated_home), reached.ledger()) == []


def test_two_partial_refunds_in_two_processes_are_both_counted(mpos, mpos_process, reached, isolated_home):
    sale = _settled_sale(mpos, reached, "20.00")
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
    assert reached.entry(sale["id"])["refunded_minor"] == 700
    assert disagreements(journal_transactions(isolated_home), reached.ledger()) == []
