"""Resolving payments whose outcome the client could not learn (SPEC §9).

An unknown outcome is never assumed declined and never retried under a new
reference. Recovery asks the acquirer what it holds for the reference:

- it never saw it: the payment failed, nobody was charged;
- it declined it: declined;
- it approved it but the card never confirmed (a crash, a timeout, a lost
  answer before the customer saw "approved"): the authorisation is reversed
  (ISO 8583 0400 semantics), retried until the acquirer acknowledges it,
  across restarts; until then the journal keeps it as ``reversal_due``.

Refunds and voids are resent under their own reference: the acquirer
replays its saved answer if it had one.
"""

from __future__ import annotations

from typing import Callable

from mpos_cli.errors import MposError
from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType


class Recovery:
    def __init__(self, pos, notify: Callable[[str], None] = lambda _: None) -> None:
        self.pos = pos
        self.journal = pos.journal
        self.notify = notify

    def pending(self) -> list[Transaction]:
        """What recovery must look at: open outcomes (not the offline queue)."""
        return [
            tx
            for tx in self.journal.open_transactions()
            if tx.stage in (Stage.INTENT, Stage.SENT, Stage.AUTHORISED, Stage.REVERSAL_DUE)
        ]

    def run(self, *, brief: bool = False) -> list[Transaction]:
        resolved = []
        for tx in self.pending():
            resolved.append(self.resolve(tx, brief=brief))
        return resolved

    def resolve(self, tx: Transaction, *, brief: bool = False) -> Transaction:
        """One step of resolution; returns the transaction as now journaled.

        ``brief``: one attempt each, never blocking a sale when the network is
        down; what stays open is picked up by the next run.
        """
        try:
            if tx.stage == Stage.INTENT:
                return self._close(tx, TxStatus.CANCELLED, "interrupted before the card was read; nothing was sent")
            if tx.type != TxType.SALE:
                return self._resolve_follow_up(tx)
            if tx.stage == Stage.REVERSAL_DUE:
                return self._reverse(tx)
            found = self.pos.gateway.lookup(tx.reference)
            if found is None:
                return self._close(tx, TxStatus.FAILED, "interrupted; the acquirer never received it")
            if found.status == "declined":
                return self._close(
                    tx, TxStatus.DECLINED, "declined by the issuer", response_code=found.response_code
                )
            if found.status == "reversed":
                return self._close(tx, TxStatus.FAILED, "interrupted; the authorisation was reversed")
            # Approved at the acquirer, but the card and the customer never saw
            # it through: give the money back rather than keep an unconfirmed sale.
            tx = self._save(
                tx.with_changes(
                    stage=Stage.REVERSAL_DUE,
                    message="interrupted after the acquirer approved; reversing",
                    acquirer_id=found.acquirer_id,
                )
            )
            return self._reverse(tx)
        except MposError as exc:
            if not brief:
                raise
            self.notify(f"{tx.id}: still unresolved ({exc.message}); mpos recover will retry")
            return tx

    def _reverse(self, tx: Transaction) -> Transaction:
        self.notify(f"Reversing {tx.id} at the acquirer…")
        self.pos.gateway.reverse(tx.reference, reason=tx.message or "unknown outcome")
        note = f"{tx.message}; reversed at the acquirer" if tx.message else "reversed at the acquirer"
        if tx.status == TxStatus.PENDING:
            return self._close(tx, TxStatus.FAILED, note)
        # Already final (e.g. the card declined after the issuer approved): keep the status.
        return self._save(tx.with_changes(stage=Stage.DONE, message=note))

    def _resolve_follow_up(self, tx: Transaction) -> Transaction:
        found = self.pos.gateway.lookup(tx.reference)
        if found is None:
            return self._close(tx, TxStatus.FAILED, "interrupted; the acquirer never received it")
        if not found.approved:
            return self._close(tx, TxStatus.DECLINED, found.message or "refused by the acquirer")
        original = self.journal.get(tx.original_id)
        if tx.type == TxType.VOID:
            if original.status == TxStatus.APPROVED:
                self._save(original.moved_to(TxStatus.VOIDED))
        else:
            refunded = original.refunded_minor + tx.amount_minor
            status = TxStatus.REFUNDED if refunded >= original.total_minor else TxStatus.PARTIALLY_REFUNDED
            self._save(original.moved_to(status, refunded_minor=refunded))
        return self._close(
            tx, TxStatus.APPROVED, None, response_code=found.response_code, auth_code=found.auth_code
        )

    def _save(self, tx: Transaction) -> Transaction:
        tx = tx.with_changes(updated_at=self.pos.env.now())
        self.journal.update(tx)
        return tx

    def _close(self, tx: Transaction, status: TxStatus, message: str | None, **changes) -> Transaction:
        tx = tx.moved_to(status, stage=Stage.DONE, message=message, updated_at=self.pos.env.now(), **changes)
        self.journal.update(tx)
        return tx
