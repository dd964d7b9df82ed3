"""QR payments: a sale the customer pays by bank transfer (SPEC §10).

The sale is journaled once, complete, as ``pending`` at stage
``awaiting_transfer``, with its code's payload and its ISO 11649 creditor
reference; nothing is sent anywhere (no acquirer, no reader), so there is
no unknown outcome for recovery to resolve. From there:

- ``mpos bank import`` finds the credit on the bank statement and approves
  it (``mpos_cli.bank``);
- ``mpos void`` cancels it before it is paid (``cancel``);
- after ``qr.expiry_days`` without a credit it expires (``expire_overdue``,
  run at the start of commands and by ``bank import``): status
  ``cancelled``; a credit that arrives later is reported, never taken.

A QR payment is never in the card batch: the money goes straight to the
merchant's account, not through the acquirer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Callable

from mpos_cli.errors import UsageError
from mpos_cli.money import Currency, to_decimal_string
from mpos_cli.records import new_sale
from mpos_cli.transaction import SaleRequest, Stage, Transaction, TxStatus, new_transaction_id

METHOD = "qr"
EXPIRED = "expired"


def is_awaiting_transfer(tx: Transaction) -> bool:
    return tx.method == METHOD and tx.status == TxStatus.PENDING and tx.stage == Stage.AWAITING_TRANSFER


def payload_for(config, *, merchant_name: str, currency: Currency, total_minor: int, reference: str) -> tuple[str, str]:
    """``(format, payload)`` for one payment, from the ``qr.*`` settings;
    a setting or amount the format does not allow is a UsageError (exit 2)."""
    from mpos_cli import qr

    fmt = config["qr.format"]
    name = config["qr.name"] or merchant_name
    if fmt == "emvco":
        return fmt, qr.emvco_payload(
            account=config["qr.emvco_account"],
            mcc=config["qr.mcc"],
            currency_numeric=currency.numeric,
            amount=to_decimal_string(total_minor, currency),
            country=config["qr.country"],
            name=name,
            city=config["qr.city"],
            reference=reference,
        )
    if not config["qr.iban"]:
        raise UsageError(
            "no account to be paid into: qr.iban is not set",
            hint="mpos config set qr.iban YOUR-IBAN (and qr.name), or qr.format emvco",
        )
    return fmt, qr.epc_payload(
        name=name, iban=config["qr.iban"], bic=config["qr.bic"] or None, amount_minor=total_minor,
        currency=currency.code, reference=reference,
    )


def start_sale(pos, request: SaleRequest) -> Transaction:
    """Journal a QR sale awaiting its transfer; everything is checked first,
    so a refused setting or amount writes nothing."""
    from mpos_cli.qr import reference_for_transaction

    env = pos.env
    now = env.now()
    business_date = env.business_date(now)
    merchant = pos.merchant
    tx_id = new_transaction_id(business_date)
    reference = reference_for_transaction(tx_id)
    total = request.amount_minor + request.tip_minor
    fmt, payload = payload_for(
        env.config, merchant_name=merchant["merchant_name"], currency=request.currency, total_minor=total,
        reference=reference,
    )
    expires_on = date.fromisoformat(business_date) + timedelta(days=env.config["qr.expiry_days"])
    tx = new_sale(
        request, tx_id=tx_id, now=now, merchant=merchant, stage=Stage.AWAITING_TRANSFER,
        # No acquirer and no test card: the code pays a real account, so it
        # is never marked sandbox, whatever gateway.url says.
        sandbox=False,
        method=METHOD,
        qr={"format": fmt, "payload": payload, "reference": reference, "expires_on": expires_on.isoformat()},
        message="waiting for the bank transfer",
    )
    pos.journal.add(tx)
    return tx


def cancel(pos, tx_id: str) -> Transaction:
    """``mpos void`` of a QR sale: cancels it while it is still unpaid."""
    journal = pos.journal
    with journal.lock:
        tx = journal.get(tx_id)
        if tx.method != METHOD:
            raise ValueError(f"{tx.id} is not a QR payment")
        if not is_awaiting_transfer(tx):
            if tx.status in (TxStatus.APPROVED, TxStatus.PARTIALLY_REFUNDED, TxStatus.REFUNDED):
                raise UsageError(
                    f"{tx.id} was paid by bank transfer ({(tx.qr or {}).get('bank_reference', 'see the statement')})",
                    hint="it cannot be voided here: pay the money back from your bank account",
                )
            raise UsageError(f"{tx.id} is {tx.status}: only a QR payment still waiting for its transfer can be cancelled")
        tx = tx.moved_to(
            TxStatus.CANCELLED, stage=Stage.DONE, updated_at=pos.env.now(),
            message="cancelled before it was paid (mpos void)",
        )
        journal.update(tx)
    return tx


def expire_overdue(pos, notify: Callable[[str], None] = lambda _: None) -> list[Transaction]:
    """Cancel the QR sales whose transfer did not come by their expiry date."""
    journal = pos.journal
    today = pos.env.business_date()
    overdue = [tx for tx in journal.open_transactions() if is_awaiting_transfer(tx) and _expired(tx, today)]
    if not overdue:
        return []
    now = pos.env.now()
    with journal.lock:  # another process may have imported a statement meanwhile
        fresh = [journal.find(tx.id) for tx in overdue]
        expired = [
            tx.moved_to(
                TxStatus.CANCELLED, stage=Stage.DONE, updated_at=now,
                message=f"{EXPIRED}: no transfer arrived by {tx.qr['expires_on']}",
            )
            for tx in fresh
            if tx is not None and is_awaiting_transfer(tx)
        ]
        journal.update_many(expired)
    for tx in expired:
        notify(f"{tx.id}: QR payment expired unpaid ({tx.qr['reference']})")
    return expired


def _expired(tx: Transaction, today: str) -> bool:
    return (tx.qr or {}).get("expires_on", "9999-12-31") < today


def reject_card_follow_up(tx: Transaction, action: str) -> None:
    """Refunds of QR payments go back by bank transfer, not through the acquirer."""
    if tx.method == METHOD:
        raise UsageError(
            f"{tx.id} is a QR payment: it cannot be {action} through the acquirer",
            hint="pay the money back by bank transfer from your account",
        )
