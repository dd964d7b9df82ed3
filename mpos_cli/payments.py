"""The payment flows, top to bottom: sale, refund, void.

A sale, step by step; every step is journaled before the next step that
could lose it (ARCHITECTURE: boundaries):

1. intent journaled (status pending, stage intent): nothing sent yet;
2. the card is read at the reader (first GENERATE AC);
3. stage ``sent`` journaled *before* the authorisation leaves: from here the
   acquirer may hold it, so a crash or timeout is an unknown outcome, never
   a decline, and never retried under a new reference;
4. the acquirer answers; an approval is journaled as stage ``authorised``;
5. the answer goes back to the card (second GENERATE AC); if the card
   refuses an approval (bad ARPC, AAC), the sale is declined and the
   authorisation reversed (stage ``reversal_due`` until acknowledged);
6. the outcome is journaled; only then does the user see it.

While a payment is open, this process holds its ``InFlight`` claim, so a
second mpos process starting up never "recovers" a payment still under way.
An unknown outcome (timeout, reset after send, 5xx, malformed answer) is
looked up at once; if the acquirer cannot tell, it is reversed, and what
cannot be reversed now is left to ``mpos recover`` and the next command.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from mpos_cli.errors import (
    CardRemoved,
    GatewayOutcomeUnknown,
    GatewayRejected,
    GatewayUnreachable,
    MposError,
    PaymentCancelled,
    PaymentDeclined,
    ReaderError,
    ReaderTimeout,
    UsageError,
)
from mpos_cli.money import Currency
from mpos_cli.pos import PointOfSale
from mpos_cli.transaction import Card, Stage, Transaction, TxStatus, TxType, new_transaction_id

Notify = Callable[[str], None]

# ISO 8583 / EMV response codes the flow itself assigns.
RC_OFFLINE_DECLINED = "Z1"  # EMV: declined offline by the card
RC_MEANINGS = {
    "00": "approved",
    "05": "do not honour",
    "51": "insufficient funds",
    "54": "expired card",
    "55": "incorrect PIN",
    "91": "issuer unavailable",
    "Z1": "declined offline by the card",
}

# EMV tags worth keeping for receipts and disputes (none of them sensitive).
KEPT_EMV_TAGS = ("4F", "50", "82", "84", "95", "9A", "9B", "9C", "9F26", "9F27", "9F36", "5F34", "8A")


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class SaleRequest:
    amount_minor: int
    tip_minor: int
    currency: Currency
    note: str | None = None
    scenario: str | None = None  # simulated reader only
    offline: str = "allow"  # allow | never


class Payments:
    def __init__(self, pos: PointOfSale, notify: Notify = _quiet) -> None:
        self.pos = pos
        self.env = pos.env
        self.journal = pos.journal
        self.notify = notify

    # -- sale ----------------------------------------------------------------

    def charge(self, request: SaleRequest) -> Transaction:
        return asyncio.run(self._charge(request))

    async def _charge(self, request: SaleRequest) -> Transaction:
        now = self.env.now()
        business_date = self.env.business_date(now)
        merchant = self.pos.merchant
        tx = Transaction(
            id=new_transaction_id(business_date),
            type=TxType.SALE,
            status=TxStatus.PENDING,
            stage=Stage.INTENT,
            amount_minor=request.amount_minor,
            tip_minor=request.tip_minor,
            currency=request.currency.code,
            created_at=now,
            updated_at=now,
            business_date=business_date,
            sandbox=self.pos.gateway.sandbox,
            note=request.note,
            merchant_id=merchant["merchant_id"],
            terminal_id=merchant["terminal_id"],
        )
        from mpos_cli.recovery import InFlight

        with InFlight(self.env).claim(tx.id):
            self.journal.add(tx)
            reader = self.pos.open_reader(currency=request.currency.code)
            try:
                tx = await self._run_sale(reader, tx, request)
            finally:
                try:
                    await reader.close()
                except ReaderError:
                    pass
        return tx

    async def _run_sale(self, reader, tx: Transaction, request: SaleRequest) -> Transaction:
        from mpos_cli.drivers.base import HostResponse, TransactionRequest

        try:
            self.notify("Connecting to the reader…")
            await reader.connect()
            self.notify("Present card on the reader")
            card_result = await reader.start_transaction(
                TransactionRequest(
                    amount_minor=tx.total_minor,
                    currency_numeric=request.currency.numeric,
                    currency_exponent=request.currency.exponent,
                    transaction_date=tx.created_at,
                    scenario=request.scenario,
                    timeout_s=self.env.config["reader.timeout"],
                )
            )
        except (ReaderTimeout, CardRemoved) as exc:
            tx = self._finish(tx, TxStatus.CANCELLED, message=exc.message)
            raise PaymentCancelled(f"payment cancelled: {exc.message}", transaction=tx) from exc
        except UsageError:
            self._finish(tx, TxStatus.CANCELLED, message="refused before the card was read")
            raise
        except ReaderError as exc:
            self._finish(tx, TxStatus.FAILED, message=exc.message)
            raise

        card = Card(
            scheme=card_result.scheme,
            masked_pan=card_result.masked_pan,
            entry_mode=card_result.entry_mode,
            cvm=card_result.cvm,
            aid=card_result.aid,
            application_label=card_result.application_label,
            tvr=card_result.emv.get("95"),
            tsi=card_result.emv.get("9B"),
            atc=card_result.emv.get("9F36"),
            expiry=card_result.expiry,
        )
        kept = {tag: value for tag, value in card_result.emv.items() if tag in KEPT_EMV_TAGS}
        if card_result.decision == "declined":
            tx = self._finish(
                tx, TxStatus.DECLINED, card=card, emv_out=kept, response_code=RC_OFFLINE_DECLINED,
                message="the card declined offline",
            )
            raise PaymentDeclined("declined by the card (offline)", transaction=tx)

        tx = self._save(tx.with_changes(card=card, emv_out=kept, stage=Stage.SENT))
        self.notify("Authorising…")
        auth_request = self._authorisation_request(tx, card_result)
        try:
            result = self.pos.gateway.authorise(auth_request)
        except GatewayUnreachable as exc:
            await _cancel_quietly(reader)
            from mpos_cli.offline import store_offline_or_fail

            return store_offline_or_fail(self, tx, card_result, request.offline, exc)
        except GatewayRejected as exc:
            await _cancel_quietly(reader)
            self._finish(tx, TxStatus.FAILED, message=f"refused by the acquirer: {exc.message}")
            raise
        except GatewayOutcomeUnknown as exc:
            self.notify("No answer from the acquirer; looking the payment up…")
            result = self._lookup_after_unknown(tx)
            if result is None:
                await _cancel_quietly(reader)
                tx = self._save(tx.with_changes(stage=Stage.REVERSAL_DUE, message=f"outcome unknown: {exc.message}"))
                from mpos_cli.recovery import Recovery

                tx = Recovery(self.pos, self.notify).resolve(tx, brief=True)
                if tx.stage == Stage.DONE:
                    hint = "it was reversed: the customer was not charged; take the payment again"
                else:
                    hint = "it will be reversed by mpos recover (or the next command); do not charge it again until then"
                raise GatewayOutcomeUnknown(
                    f"the acquirer did not answer and payment {tx.id} was not completed", hint=hint,
                ) from exc

        if not result.approved:
            await _cancel_quietly(reader)
            tx = self._finish(
                tx, TxStatus.DECLINED, response_code=result.response_code, auth_code=None,
                acquirer_id=result.acquirer_id, message=RC_MEANINGS.get(result.response_code, result.message),
            )
            raise PaymentDeclined(
                f"declined by the issuer: {result.response_code} {RC_MEANINGS.get(result.response_code, '')}".strip(),
                transaction=tx,
            )

        tx = self._save(
            tx.with_changes(
                stage=Stage.AUTHORISED, response_code=result.response_code, auth_code=result.auth_code,
                acquirer_id=result.acquirer_id,
            )
        )
        try:
            completion = await reader.complete(
                HostResponse(approved=True, response_code=result.response_code, emv=result.emv)
            )
        except ReaderError as exc:
            tx = self._reverse_after_card_failure(tx, f"the reader failed before the card confirmed: {exc.message}")
            raise type(exc)(
                f"{exc.message}; the authorisation was reversed", reason=exc.reason, hint="try the payment again"
            ) from exc
        if not completion.accepted:
            why = f"the card refused the issuer's approval ({completion.reason or 'AAC'})"
            kept.update({tag: value for tag, value in completion.emv.items() if tag in KEPT_EMV_TAGS})
            tx = self._save(tx.moved_to(TxStatus.DECLINED, stage=Stage.REVERSAL_DUE, emv_out=kept, message=why))
            tx = self._reverse_after_card_failure(tx, why)
            reversed_now = tx.stage == Stage.DONE
            raise PaymentDeclined(
                f"declined by the card after the issuer approved ({completion.reason or 'AAC'}); "
                + ("the authorisation was reversed" if reversed_now else "the authorisation is still to be reversed"),
                transaction=tx,
                hint=None if reversed_now else "mpos recover (or the next command) reverses it; the customer keeps the money",
            )
        kept.update({tag: value for tag, value in completion.emv.items() if tag in KEPT_EMV_TAGS})
        return self._finish(tx, TxStatus.APPROVED, emv_out=kept, message=None)

    def _authorisation_request(self, tx: Transaction, card_result):
        from mpos_cli.gateway.base import AuthorisationRequest

        return AuthorisationRequest(
            reference=tx.reference,
            amount_minor=tx.amount_minor,
            tip_minor=tx.tip_minor,
            currency=tx.currency,
            entry_mode=card_result.entry_mode,
            cvm=card_result.cvm,
            masked_pan=card_result.masked_pan,
            scheme=card_result.scheme,
            encrypted_card_data=card_result.encrypted_card_data,
            encrypted_pin_block=card_result.encrypted_pin_block,
            emv=dict(card_result.emv),
            captured_at=tx.created_at.isoformat(),
            merchant_id=tx.merchant_id,
            terminal_id=tx.terminal_id,
        )

    def _lookup_after_unknown(self, tx: Transaction):
        """What the acquirer holds, when it is a final answer to act on; None
        when it cannot tell (or holds nothing): then the payment is reversed."""
        try:
            found = self.pos.gateway.lookup(tx.reference)
        except MposError:
            return None
        if found is None or found.status not in ("approved", "declined"):
            return None
        return found

    def _reverse_after_card_failure(self, tx: Transaction, why: str) -> Transaction:
        from mpos_cli.recovery import Recovery

        if tx.stage != Stage.REVERSAL_DUE:
            tx = self._save(tx.with_changes(stage=Stage.REVERSAL_DUE, message=why))
        return Recovery(self.pos, self.notify).resolve(tx, brief=True)

    # -- refund and void -----------------------------------------------------

    def refund(self, original_id: str, amount_minor: int | None) -> Transaction:
        original = self.journal.get(original_id)
        if original.type != TxType.SALE or original.status not in (TxStatus.APPROVED, TxStatus.PARTIALLY_REFUNDED):
            raise UsageError(
                f"{original.id} is a {original.type} that is {original.status}: only approved sales can be refunded"
            )
        remaining = original.total_minor - original.refunded_minor
        amount = remaining if amount_minor is None else amount_minor
        if amount > remaining:
            from mpos_cli.money import currency, to_decimal_string

            cur = currency(original.currency)
            raise UsageError(
                f"refund of {to_decimal_string(amount, cur)} is more than the "
                f"{to_decimal_string(remaining, cur)} {cur.code} left on {original.id}"
            )
        refund_id = new_transaction_id(self.env.business_date())
        with self._claim(refund_id):
            return self._do_refund(original, refund_id, amount)

    def _do_refund(self, original: Transaction, refund_id: str, amount: int) -> Transaction:
        from mpos_cli.gateway.base import RefundRequest

        refund = self._new_follow_up(original, TxType.REFUND, amount, tx_id=refund_id)
        self.notify("Sending the refund…")
        result = self._send_follow_up(
            refund,
            lambda: self.pos.gateway.refund(
                RefundRequest(refund.reference, original.reference, amount, original.currency)
            ),
        )
        if not result.approved:
            refund = self._finish(refund, TxStatus.DECLINED, response_code=result.response_code, message=result.message)
            raise PaymentDeclined(f"refund declined: {result.message or result.response_code}", transaction=refund)
        return record_approved_refund(
            self.journal, refund, now=self.env.now(), response_code=result.response_code,
            auth_code=result.auth_code, acquirer_id=result.acquirer_id,
        )

    def void(self, original_id: str) -> Transaction:
        original = self.journal.get(original_id)
        if original.type != TxType.SALE or original.status != TxStatus.APPROVED:
            raise UsageError(
                f"{original.id} is a {original.type} that is {original.status}: only approved, unrefunded sales can be voided"
            )
        if original.batch_id:
            raise UsageError(f"{original.id} was settled in batch {original.batch_id}", hint="refund it instead")
        void_id = new_transaction_id(self.env.business_date())
        with self._claim(void_id):
            return self._do_void(original, void_id)

    def _do_void(self, original: Transaction, void_id: str) -> Transaction:
        void = self._new_follow_up(original, TxType.VOID, original.total_minor, tip_minor=0, tx_id=void_id)
        self.notify("Voiding…")
        result = self._send_follow_up(void, lambda: self.pos.gateway.void(void.reference, original.reference))
        if not result.approved:
            void = self._finish(void, TxStatus.DECLINED, response_code=result.response_code, message=result.message)
            raise PaymentDeclined(f"void refused: {result.message or result.response_code}", transaction=void)
        self._save(original.moved_to(TxStatus.VOIDED))
        return self._finish(
            void, TxStatus.APPROVED, response_code=result.response_code, auth_code=result.auth_code,
            acquirer_id=result.acquirer_id,
        )

    def _claim(self, tx_id: str):
        from mpos_cli.recovery import InFlight

        return InFlight(self.env).claim(tx_id)

    def _new_follow_up(
        self, original: Transaction, kind: TxType, amount_minor: int, tip_minor: int = 0, *, tx_id: str | None = None
    ) -> Transaction:
        now = self.env.now()
        tx = Transaction(
            id=tx_id or new_transaction_id(self.env.business_date(now)),
            type=kind,
            status=TxStatus.PENDING,
            stage=Stage.SENT,  # journaled as sent: the request leaves right after
            amount_minor=amount_minor,
            tip_minor=tip_minor,
            currency=original.currency,
            created_at=now,
            updated_at=now,
            business_date=self.env.business_date(now),
            sandbox=original.sandbox,
            card=original.card,
            original_id=original.id,
            merchant_id=original.merchant_id,
            terminal_id=original.terminal_id,
        )
        self.journal.add(tx)
        return tx

    def _send_follow_up(self, tx: Transaction, send):
        try:
            return send()
        except (GatewayUnreachable, GatewayRejected) as exc:
            self._finish(tx, TxStatus.FAILED, message=exc.message)
            raise
        except GatewayOutcomeUnknown:
            # Same reference, same body: the acquirer replays its answer if it had one.
            try:
                return send()
            except GatewayOutcomeUnknown as exc:
                raise GatewayOutcomeUnknown(
                    f"no answer from the acquirer for {tx.id}",
                    hint="mpos recover will finish it; do not send it again by hand",
                ) from exc

    # -- journal helpers -----------------------------------------------------

    def _save(self, tx: Transaction) -> Transaction:
        tx = tx.with_changes(updated_at=self.env.now())
        self.journal.update(tx)
        return tx

    def _finish(self, tx: Transaction, status: TxStatus, **changes) -> Transaction:
        tx = tx.moved_to(status, stage=Stage.DONE, updated_at=self.env.now(), **changes)
        self.journal.update(tx)
        return tx


def record_approved_refund(journal, refund: Transaction, *, now, **changes) -> Transaction:
    """Journal an approved refund and what it leaves on its sale.

    The sale's ``refunded_minor`` is derived, never incremented: the sum of
    its other approved refunds plus this one, read and written under the
    journal lock together with the refund's own approval. So two refunds
    in two processes cannot overwrite each other, and recovery redoing this
    after a crash between the two writes counts the refund once.
    """
    with journal.lock:
        original = journal.get(refund.original_id)
        refunded = refund.amount_minor + sum(
            other.amount_minor
            for other in journal.iter(original.business_date, None, TxStatus.APPROVED)
            if other.type == TxType.REFUND and other.original_id == original.id and other.id != refund.id
        )
        status = TxStatus.REFUNDED if refunded >= original.total_minor else TxStatus.PARTIALLY_REFUNDED
        if (original.status, original.refunded_minor) != (status, refunded):
            journal.update(original.moved_to(status, refunded_minor=refunded, updated_at=now))
        refund = refund.moved_to(TxStatus.APPROVED, stage=Stage.DONE, updated_at=now, **changes)
        journal.update(refund)
    return refund


async def _cancel_quietly(reader) -> None:
    try:
        await reader.cancel()
    except ReaderError:
        pass
