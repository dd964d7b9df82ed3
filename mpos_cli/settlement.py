"""Settlement: close the open batch at the acquirer and reconcile it.

A batch holds every final sale and refund not yet settled, up to a business
date. mpos sums its journal per currency, asks the acquirer to close its
batch, and compares the two sums field by field; any difference is listed
and the result is ``out_of_balance`` (exit 7).

Safe to run again and safe under cron:

- batch references are ``B<date>-<terminal>-<n>``; the intent to close one is
  written to ``settlements.json`` before the acquirer is asked, so a run that
  died half way reuses the same reference and the acquirer replays its
  answer instead of closing twice;
- once a batch is closed, its transactions carry its id, so a second run
  finds nothing new and submits nothing (status ``empty``);
- one settlement at a time: a lock under the home, exit 8 if it is held.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable

from mpos_cli.errors import JournalLocked, StateUnreadable
from mpos_cli.storage_util import FILE_MODE, atomic_write
from mpos_cli.transaction import CAPTURED, Transaction, TxStatus, TxType

TOTAL_KEYS = ("sales_count", "sales_minor", "refunds_count", "refunds_minor", "net_minor")


def empty_totals() -> dict[str, int]:
    return {key: 0 for key in TOTAL_KEYS} | {"tips_minor": 0}


def in_batch(tx: Transaction) -> bool:
    """Does this transaction move money the acquirer will settle?"""
    if tx.method == "qr":
        return False  # paid by bank transfer straight to the merchant's account
    if tx.type == TxType.SALE:
        return tx.status in CAPTURED
    if tx.type == TxType.REFUND:
        return tx.status == TxStatus.APPROVED
    return False  # voids cancel their sale, which then leaves the batch


def totals_of(transactions: Iterable[Transaction]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for tx in transactions:
        bucket = totals.setdefault(tx.currency, empty_totals())
        if tx.type == TxType.SALE:
            bucket["sales_count"] += 1
            bucket["sales_minor"] += tx.total_minor
            bucket["tips_minor"] += tx.tip_minor
        else:
            bucket["refunds_count"] += 1
            bucket["refunds_minor"] += tx.amount_minor
        bucket["net_minor"] = bucket["sales_minor"] - bucket["refunds_minor"]
    return totals


def differences_between(local: dict, acquirer: dict) -> list[dict[str, Any]]:
    found = []
    for cur in sorted(set(local) | set(acquirer)):
        ours, theirs = local.get(cur, empty_totals()), acquirer.get(cur, empty_totals())
        for key in TOTAL_KEYS:
            if ours.get(key, 0) != theirs.get(key, 0):
                found.append({"currency": cur, "field": key, "local": ours.get(key, 0), "acquirer": theirs.get(key, 0)})
    return found


def qr_summary(transactions: Iterable[Transaction], last_closed: str | None, day: str) -> dict[str, Any]:
    """QR sales of the business days after the last closed batch up to ``day``
    (``day`` alone when a batch was already closed that day): paid and still
    awaiting their transfer, per currency. Never part of the card batch."""
    from datetime import date, timedelta

    first = None
    if last_closed is not None:
        first = day if last_closed >= day else (date.fromisoformat(last_closed) + timedelta(days=1)).isoformat()
    totals: dict[str, dict[str, int]] = {}
    for tx in transactions:
        if tx.method != "qr" or tx.type != TxType.SALE or tx.business_date > day:
            continue
        if first is not None and tx.business_date < first:
            continue
        bucket = totals.setdefault(tx.currency, {"paid_count": 0, "paid_minor": 0, "pending_count": 0, "pending_minor": 0})
        if tx.status in CAPTURED:
            bucket["paid_count"] += 1
            bucket["paid_minor"] += tx.total_minor
        elif tx.status == TxStatus.PENDING:
            bucket["pending_count"] += 1
            bucket["pending_minor"] += tx.total_minor
    return {"date_from": first, "date_to": day, "totals": totals}


@dataclass
class Settlement:
    batch_id: str | None
    date: str
    status: str  # balanced | out_of_balance | empty
    totals: dict[str, dict[str, int]]
    acquirer_totals: dict[str, dict[str, int]] | None
    differences: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    transaction_count: int = 0
    missing_at_acquirer: list[str] = field(default_factory=list)
    unknown_to_journal: list[str] = field(default_factory=list)
    still_open: int = 0  # pending or stored offline: not in this batch
    # QR payments of the business days this Z-report covers, shown apart:
    # {"date_from", "date_to", "totals": {currency: {paid_count, paid_minor, pending_count, pending_minor}}}
    qr: dict[str, Any] = field(default_factory=dict)
    closed_at: str | None = None  # when shown again (settle --show): when it was closed

    def to_public(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "date": self.date,
            "status": self.status,
            "dry_run": self.dry_run,
            "transaction_count": self.transaction_count,
            "totals": self.totals,
            "acquirer_totals": self.acquirer_totals,
            "differences": self.differences,
            "missing_at_acquirer": self.missing_at_acquirer,
            "unknown_to_journal": self.unknown_to_journal,
            "still_open": self.still_open,
            "qr": self.qr,
        }


class SettlementBook:
    """``settlements.json``: every batch this terminal closed, and one in flight."""

    def __init__(self, path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"batches": [], "in_flight": None}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise StateUnreadable(f"{self.path} is unreadable ({exc})", hint="fix or restore it; mpos leaves it untouched") from exc

    def save(self, book: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(book, indent=1).encode())


@contextmanager
def settlement_lock(path, timeout_s: float):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise JournalLocked(
                        "another mpos settle is running", hint="wait for it to finish, then run settle again"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def settle(pos, *, date: str | None = None, dry_run: bool = False, notify=lambda _: None) -> Settlement:
    env = pos.env
    day = date or env.business_date()
    journal = pos.journal
    book_store = SettlementBook(env.data_path("settlements.json"))
    with settlement_lock(env.data_path("settle.lock"), env.config["journal.lock_timeout"]):
        book = book_store.load()
        in_flight = book.get("in_flight")
        start = book["batches"][-1]["date"] if book["batches"] else None
        if in_flight:
            start = min(start or in_flight["date"], in_flight.get("start") or in_flight["date"])
        candidates = [tx for tx in journal.iter(start, day) if tx.batch_id is None]
        items = [tx for tx in candidates if in_batch(tx)]
        still_open = sum(
            1 for tx in candidates if tx.method != "qr" and tx.status in (TxStatus.PENDING, TxStatus.OFFLINE)
        )
        last_closed = book["batches"][-1]["date"] if book["batches"] else None
        qr = qr_summary(candidates, last_closed, day)
        local = totals_of(items)
        if dry_run or (not items and not in_flight):
            return Settlement(
                batch_id=None, date=day, status="empty" if not items else "dry_run", totals=local,
                acquirer_totals=None, dry_run=dry_run, transaction_count=len(items), still_open=still_open, qr=qr,
            )
        if in_flight:
            reference = in_flight["batch_reference"]
        else:
            sequence = 1 + sum(1 for b in book["batches"] if b["date"] == day)
            reference = f"B{day.replace('-', '')}-{env.config['terminal.id']}-{sequence}"
            book["in_flight"] = {"batch_reference": reference, "date": day, "start": start}
            book_store.save(book)
        notify(f"Closing batch {reference} at the acquirer…")
        answer = pos.gateway.close_batch(reference, day)
        acquirer = {cur: {key: int(values.get(key, 0)) for key in (*TOTAL_KEYS, "tips_minor") if key in values}
                    for cur, values in answer.totals.items()}
        differences = differences_between(local, acquirer)
        ours = {tx.reference for tx in items}
        theirs = set(answer.references or [])
        missing = sorted(ours - theirs) if answer.references is not None else []
        unknown = sorted(theirs - ours)
        status = "balanced" if not differences and not missing and not unknown else "out_of_balance"
        batch_id = answer.batch_id
        stamped_at = env.now()
        journal.update_many(
            tx.with_changes(batch_id=batch_id, updated_at=stamped_at)
            for tx in items
            if tx.reference in theirs or not theirs
        )
        result = Settlement(
            batch_id=batch_id, date=day, status=status, totals=local, acquirer_totals=acquirer,
            differences=differences, transaction_count=len(items), missing_at_acquirer=missing,
            unknown_to_journal=unknown, still_open=still_open, qr=qr,
        )
        book["batches"].append(
            {"batch_reference": reference, "batch_id": batch_id, "date": day, "status": status,
             "closed_at": env.now().isoformat(), "totals": local, "acquirer_totals": acquirer,
             "transaction_count": len(items), "differences": differences,
             "missing_at_acquirer": missing, "unknown_to_journal": unknown}
        )
        book["in_flight"] = None
        book_store.save(book)
        return result


def closed_batch(env, batch: str) -> Settlement:
    """A batch this terminal closed, as it was closed (``mpos settle --show``):
    by batch id or batch reference (any case), or ``last``."""
    from mpos_cli.errors import UsageError

    book = SettlementBook(env.data_path("settlements.json")).load()
    batches = book["batches"]
    wanted = (batch or "").strip()
    if wanted.lower() == "last":
        found = batches[-1:]
    else:
        found = [b for b in batches if wanted.upper() in (str(b.get("batch_id", "")).upper(), b["batch_reference"].upper())]
    if not found:
        known = ", ".join(b["batch_id"] or b["batch_reference"] for b in batches[-5:]) or "none yet"
        raise UsageError(f"no closed batch {batch!r}", hint=f"the last ones: {known}")
    entry = found[-1]
    totals = entry.get("totals") or {}
    acquirer = entry.get("acquirer_totals") or {}
    return Settlement(
        batch_id=entry.get("batch_id"), date=entry["date"], status=entry["status"], totals=totals,
        acquirer_totals=acquirer,
        # Batches closed before the differences were kept: derived from the two totals.
        differences=entry.get("differences", differences_between(totals, acquirer)),
        transaction_count=entry.get("transaction_count", sum(t.get("sales_count", 0) + t.get("refunds_count", 0)
                                                             for t in totals.values())),
        missing_at_acquirer=entry.get("missing_at_acquirer", []),
        unknown_to_journal=entry.get("unknown_to_journal", []),
        closed_at=entry.get("closed_at"),
    )
