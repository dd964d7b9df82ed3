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

Ctrl-C (``mpos_cli.interrupts``) follows the stages: while the sale is at
``intent`` it cancels at the reader (the card read is an asyncio task,
cancelled at its next await; a Ctrl-C between the read and step 3 is
caught at that boundary) and nothing is charged; from ``sent`` on it is only
noted, and the flow runs to the true outcome.

While a payment is open, this process holds its ``InFlight`` claim, so a
second mpos process starting up never "recovers" a payment still under way.
An unknown outcome (timeout, reset after send, 5xx, malformed answer) is
looked up at once; if the acquirer cannot tell, it is reversed, and what
cannot be reversed now is left to ``mpos recover`` and the next command.
"""

from __future__ import annotations

import asyncio

from mpos_cli import offline
from mpos_cli.drivers.errors import CardRemoved, ReaderError, ReaderRequestError, ReaderTimeout
from mpos_cli.errors import (
    GatewayOutcomeUnknown,
    GatewayRejected,
    GatewayUnreachable,
    MposError,
    PaymentCancelled,
    PaymentDeclined,
    PaymentInterrupted,
    UsageError,
)
from mpos_cli.gateway import retry
from mpos_cli.interrupts import Interrupts
from mpos_cli.progress import Authorising, EnterPin, Notify, PresentCard, Step, quiet
from mpos_cli.pos import PointOfSale
from mpos_cli.records import (
    InFlight,
    Records,
    authorisation_request,
    card_from_result,
    kept_emv,
    new_sale,
    refund_request,
    with_final_card_data,
)
from mpos_cli.recovery import Recovery
from mpos_cli.transaction import SaleRequest, Stage, Transaction, TxStatus, TxType, new_transaction_id

CANCEL_TIMEOUT_S = 5.0  # a reader that does not confirm a cancel is not waited for longer

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


class Payments:
    def __init__(self, pos: PointOfSale, notify: Notify = quiet, interrupts: Interrupts | None = None) -> None:
        self.pos = pos
        self.env = pos.env
        self.journal = pos.journal
        self.records = Records(pos.journal, pos.env.now)
        self.notify = notify
        # Nobody installs this one as a signal handler: without the CLI's, Ctrl-C is Python's.
        self.interrupts = interrupts or Interrupts()

    # -- sale: one step per stage (mpos_cli.transaction.STAGE_TRANSITIONS) ---------

    def charge(self, request: SaleRequest) -> Transaction:
        self.interrupts.sale_started()  # from here Ctrl-C cancels, until the authorisation leaves
        return asyncio.run(self._charge(request))

    async def charge_on(self, reader, request: SaleRequest) -> Transaction:
        """The same sale on a reader the caller keeps connected from sale to
        sale (the till): the flow neither connects nor closes it."""
        return await self._charge(request, kept_reader=reader)

    async def _charge(self, request: SaleRequest, kept_reader=None) -> Transaction:
        now = self.env.now()
        tx = new_sale(
            request, tx_id=new_transaction_id(self.env.business_date(now)), now=now, merchant=self.pos.merchant,
            stage=Stage.INTENT, sandbox=self.pos.gateway.sandbox,
        )
        with InFlight(self.env).claim(tx.id):
            self.journal.add(tx)  # stage intent: nothing sent, safe to cancel
            if self.interrupts.cancel_requested:  # Ctrl-C before the reader was even asked
                await self._cancel_interrupted(None, tx)
            reader = kept_reader or self.pos.open_reader(currency=request.currency.code)
            try:
                card_result = await self._read_card(reader, tx, request, connect=kept_reader is None)
                tx, result = await self._authorise(reader, tx, card_result, request)
                if tx.stage == Stage.STORED:
                    return tx
                return await self._complete(reader, tx, result)
            finally:
                try:
                    if kept_reader is None:
                        await reader.close()
                except ReaderError:
                    pass

    async def _read_card(self, reader, tx: Transaction, request: SaleRequest, *, connect: bool = True):
        """Stage intent: the card is read (first GENERATE AC); nothing has left.
        Ctrl-C cancels the read at its next await, then at the reader.
        ``connect``: False for a reader the caller keeps connected (the till)."""
        from mpos_cli.drivers.base import ReaderEvent, TransactionRequest

        def reader_event(event: ReaderEvent) -> None:
            if event == ReaderEvent.PIN_ENTRY:
                self.notify(EnterPin())

        timeout_s = self.env.config["reader.timeout"]
        try:
            with self.interrupts.reading_card(asyncio.get_running_loop(), asyncio.current_task()):
                if connect:
                    from mpos_cli.reader_select import connect_for_sale

                    await connect_for_sale(reader, self.notify,
                                           low_battery_percent=self.env.config["reader.low_battery"])
                self.notify(PresentCard(timeout_s=timeout_s))
                card_result = await reader.start_transaction(
                    TransactionRequest(
                        amount_minor=tx.total_minor,
                        currency_numeric=request.currency.numeric,
                        currency_exponent=request.currency.exponent,
                        transaction_date=tx.created_at,
                        scenario=request.scenario,
                        timeout_s=timeout_s,
                        on_event=reader_event,
                    )
                )
        except asyncio.CancelledError:
            if not self.interrupts.cancel_requested:
                raise
            asyncio.current_task().uncancel()
            await self._cancel_interrupted(reader, tx)
        except (ReaderTimeout, CardRemoved) as exc:
            tx = self.records.finish(tx, TxStatus.CANCELLED, message=exc.message)
            raise PaymentCancelled(f"payment cancelled: {exc.message}", transaction=tx) from exc
        except ReaderRequestError:
            self.records.finish(tx, TxStatus.CANCELLED, message="refused before the card was read")
            raise
        except ReaderError as exc:
            self.records.finish(tx, TxStatus.FAILED, message=exc.message)
            raise
        if card_result.decision == "declined":
            tx = self.records.finish(
                tx, TxStatus.DECLINED, card=card_from_result(card_result), emv_out=kept_emv(card_result.emv),
                response_code=RC_OFFLINE_DECLINED, message="the card declined offline",
            )
            raise PaymentDeclined("declined by the card (offline)", transaction=tx)
        return card_result

    async def _cancel_interrupted(self, reader, tx: Transaction, **changes):
        """Ctrl-C before the authorisation left: cancel at the reader, journal
        ``cancelled``; nothing was sent, nothing is charged."""
        await _cancel_quietly(reader)
        tx = self.records.finish(
            tx, TxStatus.CANCELLED, message="cancelled with Ctrl-C before the authorisation was sent", **changes
        )
        raise PaymentInterrupted("cancelled, nothing was charged", transaction=tx)

    async def _authorise(self, reader, tx: Transaction, card_result, request: SaleRequest):
        """Stage sent, journaled *before* the authorisation leaves: from here the
        acquirer may hold it. Returns the journaled sale and the acquirer's
        approval (or the sale stored offline, stage stored)."""
        if self.interrupts.authorisation_leaving():  # a Ctrl-C came while the card was read
            await self._cancel_interrupted(
                reader, tx, card=card_from_result(card_result), emv_out=kept_emv(card_result.emv),
            )
        tx = self.records.save(tx.with_changes(
            card=card_from_result(card_result), emv_out=kept_emv(card_result.emv), stage=Stage.SENT,
        ))
        self.notify(Authorising())
        try:
            result = self.pos.gateway.authorise(authorisation_request(tx, card_result))
        except GatewayUnreachable as exc:
            await _cancel_quietly(reader)
            return offline.store_or_refuse(self.env, self.records, tx, card_result, request.offline, exc, self.notify), None
        except GatewayRejected as exc:
            await _cancel_quietly(reader)
            self.records.finish(tx, TxStatus.FAILED, message=f"refused by the acquirer: {exc.message}")
            raise
        except GatewayOutcomeUnknown as exc:
            self.notify(Step("No answer from the acquirer; looking the payment up…"))
            result = self._lookup_after_unknown(tx)
            if result is None:
                await _cancel_quietly(reader)
                self._reverse_unknown(tx, exc)
        if not result.approved:
            await _cancel_quietly(reader)
            tx = self.records.finish(
                tx, TxStatus.DECLINED, response_code=result.response_code, auth_code=None,
                acquirer_id=result.acquirer_id, message=RC_MEANINGS.get(result.response_code, result.message),
            )
            raise PaymentDeclined(
                f"declined by the issuer: {result.response_code} {RC_MEANINGS.get(result.response_code, '')}".strip(),
                transaction=tx,
            )
        tx = self.records.save(tx.with_changes(
            stage=Stage.AUTHORISED, response_code=result.response_code, auth_code=result.auth_code,
            acquirer_id=result.acquirer_id,
        ))
        return tx, result

    async def _complete(self, reader, tx: Transaction, result) -> Transaction:
        """Stage authorised: the issuer's answer goes back to the card (second
        GENERATE AC). A card that refuses it declines the sale, and the
        authorisation is reversed (stage reversal_due until acknowledged)."""
        from mpos_cli.drivers.base import HostResponse

        try:
            completion = await reader.complete(
                HostResponse(approved=True, response_code=result.response_code, emv=result.emv)
            )
        except ReaderError as exc:
            tx = self._reverse_after_card_failure(tx, f"the reader failed before the card confirmed: {exc.message}")
            raise type(exc)(
                f"{exc.message}; the authorisation was reversed", reason=exc.reason, hint="try the payment again"
            ) from exc
        final = with_final_card_data(tx, completion.emv)  # the card's second answer, not its first
        if completion.accepted:
            return self.records.finish(final, TxStatus.APPROVED, message=None)
        why = f"the card refused the issuer's approval ({completion.reason or 'AAC'})"
        tx = self.records.save(final.moved_to(TxStatus.DECLINED, stage=Stage.REVERSAL_DUE, message=why))
        tx = self._reverse_after_card_failure(tx, why)
        reversed_now = tx.stage == Stage.DONE
        raise PaymentDeclined(
            f"declined by the card after the issuer approved ({completion.reason or 'AAC'}); "
            + ("the authorisation was reversed" if reversed_now else "the authorisation is still to be reversed"),
            transaction=tx,
            hint=None if reversed_now else "mpos recover (or the next command) reverses it; the customer keeps the money",
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

    def _reverse_unknown(self, tx: Transaction, cause: GatewayOutcomeUnknown):
        """An outcome nobody can tell: reverse it now (or leave it to recovery)
        and say so; never a decline, never retried under a new reference."""
        tx = self.records.save(tx.with_changes(stage=Stage.REVERSAL_DUE, message=f"outcome unknown: {cause.message}"))
        tx = Recovery(self.pos, self.notify).resolve(tx, brief=True)
        if tx.stage == Stage.DONE:
            hint = "it was reversed: the customer was not charged; take the payment again"
        else:
            hint = "it will be reversed by mpos recover (or the next command); do not charge it again until then"
        raise GatewayOutcomeUnknown(
            f"the acquirer did not answer and payment {tx.id} was not completed", hint=hint,
        ) from cause

    def _reverse_after_card_failure(self, tx: Transaction, why: str) -> Transaction:
        if tx.stage != Stage.REVERSAL_DUE:
            tx = self.records.save(tx.with_changes(stage=Stage.REVERSAL_DUE, message=why))
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
        self.interrupts.finishing()  # the refund is journaled as sent and leaves: Ctrl-C no longer stops it
        with InFlight(self.env).claim(refund_id):
            refund = self.records.add_follow_up(original, TxType.REFUND, amount, tx_id=refund_id)
            self.notify(Step("Sending the refund…"))
            result = self._send_follow_up(
                refund, lambda: self.pos.gateway.refund(refund_request(refund, original))
            )
            if not result.approved:
                refund = self.records.finish(
                    refund, TxStatus.DECLINED, response_code=result.response_code, message=result.message
                )
                raise PaymentDeclined(f"refund declined: {result.message or result.response_code}", transaction=refund)
            return self.records.approved_refund(
                refund, response_code=result.response_code, auth_code=result.auth_code, acquirer_id=result.acquirer_id,
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
        self.interrupts.finishing()  # the void is journaled as sent and leaves: Ctrl-C no longer stops it
        with InFlight(self.env).claim(void_id):
            void = self.records.add_follow_up(original, TxType.VOID, original.total_minor, tx_id=void_id)
            self.notify(Step("Voiding…"))
            result = self._send_follow_up(void, lambda: self.pos.gateway.void(void.reference, original.reference))
            if not result.approved:
                void = self.records.finish(void, TxStatus.DECLINED, response_code=result.response_code, message=result.message)
                raise PaymentDeclined(f"void refused: {result.message or result.response_code}", transaction=void)
            self.records.save(original.moved_to(TxStatus.VOIDED))
            return self.records.finish(
                void, TxStatus.APPROVED, response_code=result.response_code, auth_code=result.auth_code,
                acquirer_id=result.acquirer_id,
            )

    def _send_follow_up(self, tx: Transaction, send):
        """Send a refund or void; a lost answer is resent once under the same
        reference and body (the acquirer replays its answer if it had one)."""
        attempts = 0

        def attempt():
            nonlocal attempts
            attempts += 1
            return send()

        try:
            return retry.RESEND.call(attempt)
        except (GatewayUnreachable, GatewayRejected) as exc:
            if attempts > 1:
                raise  # the first attempt may have arrived: recovery finishes it
            self.records.finish(tx, TxStatus.FAILED, message=exc.message)
            raise
        except GatewayOutcomeUnknown as exc:
            raise GatewayOutcomeUnknown(
                f"no answer from the acquirer for {tx.id}",
                hint="mpos recover will finish it; do not send it again by hand",
            ) from exc


async def _cancel_quietly(reader) -> None:
    if reader is None:
        return
    try:
        await asyncio.wait_for(reader.cancel(), CANCEL_TIMEOUT_S)
    except (ReaderError, TimeoutError):
        pass  # the reader times the card session out by itself
