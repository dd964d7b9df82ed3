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

``brief`` is for the start of every command: a short timeout, one attempt,
and the first gateway failure ends the pass (the network is down; the next
run picks it up).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Callable, Iterator

from mpos_cli.errors import GatewayOutcomeUnknown, GatewayRejected, GatewayUnreachable, MposError
from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType

BRIEF_TIMEOUT_S = 3.0  # the acquirer gets this long per call during start-of-command recovery
BACKOFF_S = (0.5, 1.0, 2.0)  # ``mpos recover``: waits between attempts (then next run)


# -- in-flight claims ----------------------------------------------------------

_held: dict[str, tuple[int, int]] = {}  # path -> (fd, depth): claims this process holds


class InFlight:
    """``<data>/inflight/<id>.lock``: held (flock) by the process working on a payment."""

    def __init__(self, env) -> None:
        self.folder = Path(env.data_path("inflight"))

    def _path(self, tx_id: str) -> str:
        return str(self.folder / f"{tx_id}.lock")

    @contextmanager
    def claim(self, tx_id: str, *, wait: bool = True) -> Iterator[bool]:
        """Yields True when this process holds the claim, False when another does."""
        path = self._path(tx_id)
        if path in _held:  # re-entrant within a process
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
            try:
                yield True
            finally:
                fd, depth = _held[path]
                _held[path] = (fd, depth - 1)
            return
        fd = self._acquire(path, wait=wait)
        if fd is None:
            yield False
            return
        _held[path] = (fd, 1)
        try:
            yield True
        finally:
            del _held[path]
            try:
                os.unlink(path)
            except OSError:
                pass
            os.close(fd)

    def _acquire(self, path: str, *, wait: bool) -> int | None:
        from mpos_cli.storage_util import FILE_MODE, ensure_dir

        ensure_dir(self.folder)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return None
                raise
            # The holder before us may have unlinked the file as it let go.
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def busy(self, tx_id: str) -> bool:
        with self.claim(tx_id, wait=False) as mine:
            return not mine


# -- recovery ------------------------------------------------------------------


class Recovery:
    def __init__(self, pos, notify: Callable[[str], None] = lambda _: None, *, sleep=time.sleep) -> None:
        self.pos = pos
        self.journal = pos.journal
        self.notify = notify
        self.sleep = sleep
        self.inflight = InFlight(pos.env)

    def pending(self) -> list[Transaction]:
        """What recovery must look at: open outcomes (not the offline queue)."""
        return [
            tx
            for tx in self.journal.open_transactions()
            if tx.stage in (Stage.INTENT, Stage.SENT, Stage.AUTHORISED, Stage.REVERSAL_DUE)
        ]

    def run(self, *, brief: bool = False) -> list[Transaction]:
        """Resolve every open payment; returns those now closed.

        ``brief``: one attempt each, a short timeout, and the first network
        failure ends the pass. Otherwise each payment is retried with backoff
        (only the first one when the network stays down); what stays open is
        reported and left for the next run.
        """
        resolved: list[Transaction] = []
        pending = self.pending()
        if not pending:
            return resolved
        network_down = False
        with _limited(self.pos.gateway, BRIEF_TIMEOUT_S) if brief else nullcontext():
            for tx in pending:
                attempts = 1 if (brief or network_down) else 1 + len(BACKOFF_S)
                after, failure = self._resolve(tx, attempts)
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
        after, failure = self._resolve(tx, 1 if brief else 1 + len(BACKOFF_S))
        if failure is not None:
            if not brief:
                raise failure
            self.notify(f"{tx.id}: still unresolved ({failure.message}); mpos recover will retry")
        return after

    def _resolve(self, tx: Transaction, attempts: int) -> tuple[Transaction, MposError | None]:
        with self.inflight.claim(tx.id, wait=False) as mine:
            if not mine:
                self.notify(f"{tx.id}: in progress in another mpos process; left to it")
                return tx, None
            fresh = self.journal.find(tx.id) or tx  # another process may have closed it meanwhile
            failure: MposError | None = None
            for attempt in range(attempts):
                if fresh.stage == Stage.DONE:
                    return fresh, None
                if attempt:
                    self.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1])
                try:
                    return self._step(fresh), None
                except (GatewayUnreachable, GatewayOutcomeUnknown) as exc:
                    failure = exc
                except MposError as exc:
                    return fresh, exc  # refused or not the network: retrying will not help
                fresh = self.journal.find(tx.id) or fresh
            return fresh, failure

    def _step(self, tx: Transaction) -> Transaction:
        if tx.stage == Stage.INTENT:
            return self._close(tx, TxStatus.CANCELLED, "interrupted before the card was read; nothing was sent")
        if tx.type != TxType.SALE:
            return self._resolve_follow_up(tx)
        if tx.stage == Stage.REVERSAL_DUE:
            return self._reverse(tx)
        found = self.pos.gateway.lookup(tx.reference)
        if found is None:
            # Never seen: make sure it never will be (a request may still be on its way).
            tx = self._save(tx.with_changes(
                stage=Stage.REVERSAL_DUE, message="interrupted; the acquirer never received it",
            ))
            return self._reverse(tx)
        if found.status == "declined":
            return self._close(tx, TxStatus.DECLINED, "declined by the issuer", response_code=found.response_code)
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

    def _reverse(self, tx: Transaction) -> Transaction:
        self.notify(f"Reversing {tx.id} at the acquirer…")
        result = self.pos.gateway.reverse(tx.reference, reason=tx.message or "unknown outcome")
        if not result.approved:
            # The acquirer cannot reverse it (settled already): the money was
            # taken, so the journal must say approved, with what to do.
            note = f"could not be reversed ({result.message or result.response_code}); refund it if the customer did not pay"
            if tx.status == TxStatus.PENDING:
                return self._close(
                    tx, TxStatus.APPROVED, note, response_code="00", auth_code=result.auth_code,
                    acquirer_id=result.acquirer_id or tx.acquirer_id,
                )
            return self._save(tx.with_changes(stage=Stage.DONE, message=note))
        note = f"{tx.message}; reversed at the acquirer" if tx.message else "reversed at the acquirer"
        if tx.status == TxStatus.PENDING:
            return self._close(tx, TxStatus.FAILED, note)
        # Already final (e.g. the card declined after the issuer approved): keep the status.
        return self._save(tx.with_changes(stage=Stage.DONE, message=note))

    def _resolve_follow_up(self, tx: Transaction) -> Transaction:
        from mpos_cli.gateway.base import RefundRequest

        original = self.journal.get(tx.original_id)
        try:
            if tx.type == TxType.VOID:
                found = self.pos.gateway.void(tx.reference, original.reference)
            else:
                found = self.pos.gateway.refund(
                    RefundRequest(tx.reference, original.reference, tx.amount_minor, original.currency)
                )
        except GatewayRejected:
            # The reference is taken by another body (an older mpos sent it
            # differently): what the acquirer holds decides.
            found = self.pos.gateway.lookup(tx.reference)
            if found is None:
                return self._close(tx, TxStatus.FAILED, "refused by the acquirer; nothing was done")
        if not found.approved or found.status == "reversed":
            return self._close(tx, TxStatus.DECLINED, found.message or "refused by the acquirer",
                               response_code=found.response_code)
        if tx.type == TxType.REFUND:
            from mpos_cli.payments import record_approved_refund

            return record_approved_refund(
                self.journal, tx, now=self.pos.env.now(), message="completed by recovery",
                response_code=found.response_code, auth_code=found.auth_code, acquirer_id=found.acquirer_id,
            )
        original = self.journal.get(tx.original_id)
        if original.status == TxStatus.APPROVED:
            self._save(original.moved_to(TxStatus.VOIDED))
        return self._close(
            tx, TxStatus.APPROVED, "completed by recovery", response_code=found.response_code,
            auth_code=found.auth_code, acquirer_id=found.acquirer_id,
        )

    def _save(self, tx: Transaction) -> Transaction:
        tx = tx.with_changes(updated_at=self.pos.env.now())
        self.journal.update(tx)
        return tx

    def _close(self, tx: Transaction, status: TxStatus, message: str | None, **changes) -> Transaction:
        tx = tx.moved_to(status, stage=Stage.DONE, message=message, updated_at=self.pos.env.now(), **changes)
        self.journal.update(tx)
        return tx


def _limited(gateway, seconds: float):
    limit = getattr(gateway, "limited", None)
    return limit(seconds) if callable(limit) else nullcontext()


def brief_pass(pos, notify: Callable[[str], None]) -> None:
    """Start of a command: recovery, then forwarding of the offline queue,
    each with a short timeout and stopping at the first sign of a dead network."""
    from mpos_cli import offline

    open_txs = pos.journal.open_transactions()
    if not open_txs:
        return
    if any(tx.stage != Stage.STORED for tx in open_txs):
        Recovery(pos, notify).run(brief=True)
    if offline.queued(pos.journal):
        with _limited(pos.gateway, BRIEF_TIMEOUT_S):
            offline.forward(pos, notify, brief=True)
