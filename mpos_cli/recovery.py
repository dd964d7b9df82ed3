"""Resolving payments whose outcome the client could not learn (SPEC §9).

An unknown outcome is never assumed declined and never retried under a new
reference. Recovery asks the acquirer what it holds for the reference:

- it never saw it: a reversal is still sent (ISO 8583 0420 before 0100),
  so a request still on its way (a killed process's last bytes in a socket
  buffer) can never be honoured later; the payment failed, nobody was
  charged;
- it declined it: declined;
- it reversed it: failed, nobody was charged;
- it approved it but the card never confirmed (a crash, a timeout, a lost
  answer before the customer saw "approved"): the authorisation is reversed
  (ISO 8583 0400 semantics), retried with backoff until the acquirer
  acknowledges it, across restarts; until then the journal keeps it as
  ``reversal_due``. A sale the acquirer already settled cannot be reversed:
  it is kept as approved, with a message saying to refund it if needed.

Refunds and voids are resent under their own reference with the same body:
the acquirer replays its saved answer if it had one, else performs it.

A payment still in the hands of a live process (another ``mpos charge``
running at the same time) is left alone: each flow holds an ``InFlight``
claim (an ``flock`` the kernel drops when the process dies) while the
payment is open.

``brief`` is for the start of every command: the ``retry.BRIEF`` policy (a
short timeout, one attempt), and the first gateway failure ends the pass
(the network is down; the next run picks it up). Otherwise each payment is
retried as ``retry.RECOVER`` says.
"""

from __future__ import annotations

from typing import Callable

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, GatewayUnreachable, MposError
from mpos_cli.gateway import retry
from mpos_cli.records import InFlight, Records, refund_request
from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType

# What recovery resolves: open outcomes (the offline queue, stage stored, is
# forwarded by mpos_cli.offline instead).
OPEN_STAGES = (Stage.INTENT, Stage.SENT, Stage.AUTHORISED, Stage.REVERSAL_DUE)


class Recovery:
    def __init__(self, pos, notify: Callable[[str], None] = lambda _: None, *, policy: retry.RetryPolicy = retry.RECOVER) -> None:
        self.pos = pos
        self.journal = pos.journal
        self.records = Records(pos.journal, pos.env.now)
        self.notify = notify
        self.policy = policy
        self.inflight = InFlight(pos.env)
        self.call_policy: retry.RetryPolicy | None = None  # per gateway call; BRIEF while brief

    def pending(self) -> list[Transaction]:
        """What recovery must look at: open outcomes (not the offline queue)."""
        return [tx for tx in self.journal.open_transactions() if tx.stage in OPEN_STAGES]

    def run(self, *, brief: bool = False) -> list[Transaction]:
        """Resolve every open payment; returns those now closed.

        ``brief``: one attempt each, a short timeout, and the first network
        failure ends the pass. Otherwise each payment is retried with backoff
        (only the first one when the network stays down); what stays open is
        reported and left for the next run.
        """
        resolved: list[Transaction] = []
        network_down = False
        for tx in self.pending():
            after, failure = self._resolve(tx, once=brief or network_down, short_calls=brief)
            if failure is None:
                if after.stage == Stage.DONE:
                    resolved.append(after)
                continue
            self.notify(f"{tx.id}: still unresolved ({failure.message}); mpos recover will retry")
            if isinstance(failure, (GatewayUnreachable, GatewayOutcomeUnknown)):
                network_down = True
                if brief:
                    break
        return resolved

    def resolve(self, tx: Transaction, *, brief: bool = False) -> Transaction:
        """Resolve one payment; returns it as now journaled. ``brief``: one
        attempt, a failure is reported and the payment stays open; else
        retried with backoff, and a failure raises."""
        after, failure = self._resolve(tx, once=brief, short_calls=False)
        if failure is not None:
            if not brief:
                raise failure
            self.notify(f"{tx.id}: still unresolved ({failure.message}); mpos recover will retry")
        return after

    def _resolve(self, tx: Transaction, *, once: bool, short_calls: bool) -> tuple[Transaction, MposError | None]:
        """``once``: a single attempt; ``short_calls``: each gateway call under
        ``retry.BRIEF`` (start of a command)."""
        policy = self.policy.with_(attempts=1) if once else self.policy
        self.call_policy = retry.BRIEF if short_calls else None
        with self.inflight.claim(tx.id, wait=False) as mine:
            if not mine:
                self.notify(f"{tx.id}: in progress in another mpos process; left to it")
                return tx, None
            latest = tx

            def attempt() -> Transaction:
                nonlocal latest
                latest = self.journal.find(tx.id) or latest  # another process may have closed it meanwhile
                return latest if latest.stage == Stage.DONE else self._step(latest)

            try:
                return policy.call(attempt), None
            except MposError as exc:  # the network stayed down, or refused: retrying will not help
                return latest, exc

    def _step(self, tx: Transaction) -> Transaction:
        """One stage of an open payment, the mirror image of the sale flow."""
        if tx.stage == Stage.INTENT:
            return self.records.finish(tx, TxStatus.CANCELLED, message="interrupted before the card was read; nothing was sent")
        if tx.type != TxType.SALE:
            return self._resolve_follow_up(tx)
        if tx.stage == Stage.REVERSAL_DUE:
            return self._reverse(tx)
        found = self.pos.gateway.lookup(tx.reference, policy=self.call_policy)
        if found is None:
            # Never seen: make sure it never will be (a request may still be on its way).
            tx = self.records.save(tx.with_changes(
                stage=Stage.REVERSAL_DUE, message="interrupted; the acquirer never received it",
            ))
            return self._reverse(tx)
        if found.status == "declined":
            return self.records.finish(tx, TxStatus.DECLINED, message="declined by the issuer", response_code=found.response_code)
        if found.status == "reversed":
            return self.records.finish(tx, TxStatus.FAILED, message="interrupted; the authorisation was reversed")
        # Approved at the acquirer, but the card and the customer never saw
        # it through: give the money back rather than keep an unconfirmed sale.
        tx = self.records.save(
            tx.with_changes(
                stage=Stage.REVERSAL_DUE,
                message="interrupted after the acquirer approved; reversing",
                acquirer_id=found.acquirer_id,
            )
        )
        return self._reverse(tx)

    def _reverse(self, tx: Transaction) -> Transaction:
        self.notify(f"Reversing {tx.id} at the acquirer…")
        result = self.pos.gateway.reverse(tx.reference, reason=tx.message or "unknown outcome", policy=self.call_policy)
        if not result.approved:
            # The acquirer cannot reverse it (settled already): the money was
            # taken, so the journal must say approved, with what to do.
            note = f"could not be reversed ({result.message or result.response_code}); refund it if the customer did not pay"
            if tx.status == TxStatus.PENDING:
                return self.records.finish(
                    tx, TxStatus.APPROVED, message=note, response_code="00", auth_code=result.auth_code,
                    acquirer_id=result.acquirer_id or tx.acquirer_id,
                )
            return self.records.save(tx.with_changes(stage=Stage.DONE, message=note))
        note = f"{tx.message}; reversed at the acquirer" if tx.message else "reversed at the acquirer"
        if tx.status == TxStatus.PENDING:
            return self.records.finish(tx, TxStatus.FAILED, message=note)
        # Already final (e.g. the card declined after the issuer approved): keep the status.
        return self.records.save(tx.with_changes(stage=Stage.DONE, message=note))

    def _resolve_follow_up(self, tx: Transaction) -> Transaction:
        original = self.journal.get(tx.original_id)
        gateway, policy = self.pos.gateway, self.call_policy
        try:
            if tx.type == TxType.VOID:
                found = gateway.void(tx.reference, original.reference, policy=policy)
            else:
                found = gateway.refund(refund_request(tx, original), policy=policy)
        except GatewayRejected:
            # The reference is taken by another body (an older mpos sent it
            # differently): what the acquirer holds decides.
            found = gateway.lookup(tx.reference, policy=policy)
            if found is None:
                return self.records.finish(tx, TxStatus.FAILED, message="refused by the acquirer; nothing was done")
        if not found.approved or found.status == "reversed":
            return self.records.finish(tx, TxStatus.DECLINED, message=found.message or "refused by the acquirer",
                                       response_code=found.response_code)
        if tx.type == TxType.REFUND:
            return self.records.approved_refund(
                tx, message="completed by recovery",
                response_code=found.response_code, auth_code=found.auth_code, acquirer_id=found.acquirer_id,
            )
        original = self.journal.get(tx.original_id)
        if original.status == TxStatus.APPROVED:
            self.records.save(original.moved_to(TxStatus.VOIDED))
        return self.records.finish(
            tx, TxStatus.APPROVED, message="completed by recovery", response_code=found.response_code,
            auth_code=found.auth_code, acquirer_id=found.acquirer_id,
        )
