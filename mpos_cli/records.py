"""The records layer under the payment flows.

What the sale, refund and void flows (``payments``), store-and-forward
(``offline``) and recovery (``recovery``) all do to a payment's record lives
here, once; those three import this module and never reach into each other:

- ``InFlight``: the claim a process holds while it works on a payment, so a
  second process never "recovers" a payment still under way;
- ``Records``: saving a transaction's new state and finishing it (stage
  ``done``), stamped with the clock, through the journal (which enforces the
  lifecycle table of ``mpos_cli.transaction``);
- ``Records.approved_refund``: an approved refund and what it leaves on its
  sale, derived under the journal lock;
- the EMV tags kept for receipts and disputes, and the card as it may be kept;
- the authorisation requests sent for a card just read and for a payment
  stored offline.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from mpos_cli.transaction import Card, SaleRequest, Stage, Transaction, TxStatus, TxType

# EMV tags worth keeping for receipts and disputes (none of them sensitive).
KEPT_EMV_TAGS = ("4F", "50", "82", "84", "95", "9A", "9B", "9C", "9F26", "9F27", "9F36", "5F34", "8A")


def kept_emv(emv: dict[str, str]) -> dict[str, str]:
    """The non-sensitive EMV tags of ``emv`` that the journal keeps."""
    return {tag: value for tag, value in emv.items() if tag in KEPT_EMV_TAGS}


def _card_identity(card) -> dict[str, str]:
    """What names a card to people and to the acquirer, from a card result or
    a kept ``Card``: scheme, masked PAN (6 + 4 at most), entry mode, CVM."""
    return {"scheme": card.scheme, "masked_pan": card.masked_pan, "entry_mode": card.entry_mode, "cvm": card.cvm}


def card_from_result(card_result) -> Card:
    """What may be kept of the card the reader read (SPEC §8): never the PAN,
    track data or PIN."""
    return Card(
        **_card_identity(card_result),
        aid=card_result.aid,
        application_label=card_result.application_label,
        tvr=card_result.emv.get("95"),
        tsi=card_result.emv.get("9B"),
        atc=card_result.emv.get("9F36"),
        expiry=card_result.expiry,
    )


# The card's final word, kept in place of its first. A chip card answers
# GENERATE AC twice on an online sale (EMV Book 3 §6.5.5, §10.9): the first
# answer (an ARQC) goes to the issuer, the second (a TC or an AAC) is the
# card's decision on the issuer's answer. Between the two the terminal
# performs issuer authentication and updates the TVR (95) and the TSI (9B)
# (EMV Book 3 Annex C5, C6), and the card returns a new cryptogram (9F26)
# with its cryptogram information data (9F27). Receipts and the journal show
# the final values, never the first answer's TVR/TSI next to the second's TC.
# A contactless card usually answers once: then the first answer stays.
# What a second GENERATE AC (and the terminal's processing around it) can
# change among the tags a payment keeps: TVR, TSI, cryptogram, cryptogram
# information data, ATC, and the authorisation response code given to the card.
FINAL_EMV_TAGS = ("95", "9B", "9F26", "9F27", "9F36", "8A")


def with_final_card_data(tx: Transaction, final_emv: Mapping[str, str]) -> Transaction:
    """``tx`` with the card's final TVR, TSI, ATC and cryptogram data.

    ``final_emv`` is what the reader reported after the second GENERATE AC
    (``Completion.emv``); tags it does not carry keep their first values.
    Both places a receipt or an auditor reads agree afterwards: ``emv_out``
    and the card's ``tvr``/``tsi``/``atc``.
    """
    final = {tag.upper(): value for tag, value in final_emv.items() if tag.upper() in FINAL_EMV_TAGS}
    if not final:
        return tx
    emv_out = {**tx.emv_out, **final}
    card = tx.card
    if card is not None:
        card = replace(
            card,
            tvr=final.get("95", card.tvr),
            tsi=final.get("9B", card.tsi),
            atc=final.get("9F36", card.atc),
        )
    return tx.with_changes(card=card, emv_out=emv_out)


def new_sale(request: SaleRequest, *, tx_id: str, now: datetime, merchant: dict[str, str], stage: Stage,
             sandbox: bool, **more) -> Transaction:
    """A sale as first journaled (status pending), from what was asked
    (``request``) at ``now``; ``more`` sets what a kind of sale adds (a QR
    payment's method and code)."""
    return Transaction(
        id=tx_id,
        type=TxType.SALE,
        status=TxStatus.PENDING,
        stage=stage,
        amount_minor=request.amount_minor,
        tip_minor=request.tip_minor,
        currency=request.currency.code,
        created_at=now,
        updated_at=now,
        business_date=now.date().isoformat(),
        sandbox=sandbox,
        note=request.note,
        merchant_id=merchant["merchant_id"],
        terminal_id=merchant["terminal_id"],
        items=tuple(request.items),
        **more,
    )


# -- in-flight claims ----------------------------------------------------------

_held: dict[str, tuple[int, int]] = {}  # path -> (fd, depth): claims this process holds


class InFlight:
    """``<data>/inflight/<id>.lock``: held (flock) by the process working on a
    payment; the kernel drops it when the process dies."""

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


# -- the journal, as the flows write it ------------------------------------------


class Records:
    """A payment's states, journaled and stamped with the clock."""

    def __init__(self, journal, clock: Callable[[], datetime]) -> None:
        self.journal = journal
        self.clock = clock

    def save(self, tx: Transaction) -> Transaction:
        """Journal a new state of ``tx`` (durable on return)."""
        tx = tx.with_changes(updated_at=self.clock())
        self.journal.update(tx)
        return tx

    def finish(self, tx: Transaction, status: TxStatus, **changes) -> Transaction:
        """Journal ``tx``'s outcome: ``status`` and stage ``done``."""
        tx = tx.moved_to(status, stage=Stage.DONE, updated_at=self.clock(), **changes)
        self.journal.update(tx)
        return tx

    def add_follow_up(self, original: Transaction, kind: TxType, amount_minor: int, *, tx_id: str) -> Transaction:
        """Journal a refund or void of ``original`` as sent (stage ``sent``):
        its request leaves right after, so from here the acquirer may hold it."""
        tx = original.follow_up(kind, amount_minor, tx_id=tx_id, at=self.clock())
        self.journal.add(tx)
        return tx

    def approved_refund(self, refund: Transaction, **changes) -> Transaction:
        """Journal an approved refund and what it leaves on its sale.

        The sale's ``refunded_minor`` is derived, never incremented: the sum of
        its other approved refunds plus this one, read and written under the
        journal lock together with the refund's own approval. So two refunds
        in two processes cannot overwrite each other, and recovery redoing this
        after a crash between the two writes counts the refund once.
        """
        journal = self.journal
        now = self.clock()
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


# -- requests to the acquirer ------------------------------------------------------


def authorisation_request(tx: Transaction, card_result):
    """The online authorisation of a sale whose card was just read."""
    return _authorisation(
        tx, card_result, encrypted_card_data=card_result.encrypted_card_data,
        encrypted_pin_block=card_result.encrypted_pin_block, emv=card_result.emv,
    )


def deferred_authorisation_request(tx: Transaction):
    """The deferred authorisation of a payment stored offline: the card data
    is the reader's sealed blob kept with it (never an online PIN: offline
    storage refuses those)."""
    return _authorisation(
        tx, tx.card, encrypted_card_data=tx.stored_card_data or "", encrypted_pin_block=None, emv=tx.emv_out,
        deferred=True,
    )


def _authorisation(tx: Transaction, card, *, encrypted_card_data, encrypted_pin_block, emv, deferred=False):
    from mpos_cli.gateway.base import AuthorisationRequest

    return AuthorisationRequest(
        reference=tx.reference,
        amount_minor=tx.amount_minor,
        tip_minor=tx.tip_minor,
        currency=tx.currency,
        **_card_identity(card),
        encrypted_card_data=encrypted_card_data,
        encrypted_pin_block=encrypted_pin_block,
        emv=dict(emv),
        deferred=deferred,
        captured_at=tx.created_at.isoformat(),
        merchant_id=tx.merchant_id,
        terminal_id=tx.terminal_id,
    )


def refund_request(refund: Transaction, original: Transaction):
    from mpos_cli.gateway.base import RefundRequest

    return RefundRequest(refund.reference, original.reference, refund.amount_minor, original.currency)
