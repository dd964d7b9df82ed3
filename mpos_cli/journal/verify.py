"""``Journal.verify()``: read everything, trust nothing, report.

Checks, for every month: checksums and segment headers, torn tails (reported
as warnings: an unacknowledged write that was never loaded), records lost
against the month's high-water mark or its chain of segments (a problem; a
mark file with no readable slot is a warning: nothing to check against), that every
transaction's history of states follows ``transaction.TRANSITIONS``, that
each document sits under the id and month its transaction id names, no
duplicate ids; then across months: amounts are whole non-negative minor
units, ``refunded_minor`` is never above the total and matches the status,
refunds and voids point to an existing sale in the same currency, the
approved refunds of a sale add up to its ``refunded_minor`` and a voided sale
has its approved void (skipped while a follow-up is still open), and the
totals per currency.

``fast=True`` (``mpos doctor``) keeps the storage checks of every month
(checksums, segment headers, torn tails, lost records, duplicate ids) and
skips the per-record ones (history, amounts, refunds, totals): about a
third of the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mpos_cli.errors import StateUnreadable
from mpos_cli.journal import log
from mpos_cli.journal import mark as hwm
from mpos_cli.journal.fileops import FileOps
from mpos_cli.journal.index import is_open
from mpos_cli.journal.storage import TornTail, read_month
from mpos_cli.transaction import CAPTURED, Transaction, TxStatus, TxType, transition_allowed

MAX_PROBLEMS = 1000


@dataclass
class VerifyReport:
    records: int = 0  # transactions (their latest state)
    versions: int = 0  # states read, history included
    partitions: int = 0
    segments: int = 0
    open: int = 0  # pending, offline or reversal due
    by_status: dict[str, int] = field(default_factory=dict)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # by currency
    torn_tails: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No problem found (warnings, such as a torn tail, do not count)."""
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("… more problems not listed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "records": self.records,
            "versions": self.versions,
            "partitions": self.partitions,
            "segments": self.segments,
            "open": self.open,
            "by_status": dict(sorted(self.by_status.items())),
            "totals": self.totals,
            "torn_tails": list(self.torn_tails),
            "warnings": list(self.warnings),
            "problems": list(self.problems),
        }


def verify(
    ops: FileOps, directory: Path, table: str, locate: Callable[[str], tuple[str, int] | None], *, fast: bool = False
) -> VerifyReport:
    """Run every check (``fast``: the storage checks only); the caller holds
    the journal lock (shared)."""
    report = VerifyReport()
    names = ops.listdir(directory)
    months = partition_months(names)
    final: dict[str, dict] = {}
    statuses = {s.value for s in TxStatus}

    for month in months:
        report.partitions += 1
        last_status: dict[str, str] = {}

        def visit(segment: str, offset: int, record: dict) -> None:
            where = f"{segment} byte {offset}"
            if record.get("t") != table:
                report.warnings.append(f"{where}: a change to unknown table {record.get('t')!r}")
                return
            put = record.get("put")
            if not isinstance(put, dict) or not isinstance(record.get("del", []), list):
                report.problem(f"{where}: malformed change record")
                return
            for doc_id, doc in put.items():
                report.versions += 1
                if not isinstance(doc, dict):
                    report.problem(f"{where}: document {doc_id} is not an object")
                    continue
                tx_id = doc.get("id")
                place = locate(tx_id) if isinstance(tx_id, str) else None
                if place is None:
                    report.problem(f"{where}: document {doc_id} has no valid transaction id ({tx_id!r})")
                elif place != (month, int(doc_id) if doc_id.isdigit() else None):
                    report.problem(f"{where}: {tx_id} is filed under the wrong month or document id")
                status = doc.get("status")
                if status not in statuses:
                    report.problem(f"{where}: {tx_id} has an unknown status {status!r}")
                    continue
                previous = last_status.get(doc_id)
                if previous is not None and not transition_allowed(TxStatus(previous), TxStatus(status)):
                    report.problem(f"{where}: {tx_id} went from {previous} to {status}, which is not allowed")
                last_status[doc_id] = status
            if record.get("del"):
                report.warnings.append(f"{where}: {len(record['del'])} document(s) removed")

        try:
            state = read_month(ops, directory, month, names=names, visit=None if fast else visit)
        except StateUnreadable as exc:
            report.problem(exc.message)
            continue
        report.segments += len(state.segments)
        if state.mark is not None and state.mark.present and state.mark.mark is None:
            report.warnings.append(
                f"journal {month}: its high-water mark {hwm.mark_name(month)} has no readable slot "
                "(lost records at the end of the month cannot be detected until the next write to it)"
            )
        tails = list(state.torn)
        if state.tail and state.active is not None:
            tails.append(TornTail(log.segment_name(month, state.active), state.end, state.tail))
        for tail in tails:
            text = tail.describe(month)
            report.torn_tails.append(text)
            report.warnings.append(text)
        for name in state.leftovers:
            report.warnings.append(
                f"journal {month}: {name} is superseded by a compacted segment (an interrupted compaction; "
                "the next compaction removes it)"
            )
        for doc_id, doc in state.tables.get(table, {}).items():
            tx_id = doc.get("id")
            if not isinstance(tx_id, str):
                continue
            if tx_id in final:
                report.problem(f"duplicate transaction id {tx_id}")
                continue
            final[tx_id] = doc

    if fast:
        report.records = len(final)
        report.open = sum(1 for doc in final.values() if is_open(doc))
        return report
    _check_transactions(report, final)
    return report


def partition_months(names: list[str]) -> list[str]:
    """The months a folder listing holds: those with segments, and those
    whose high-water mark survives them (every segment lost)."""
    months = {p[0] for p in map(log.parse_segment_name, names) if p}
    months.update(m for m in map(hwm.parse_mark_name, names) if m)
    return sorted(months)


def _check_transactions(report: VerifyReport, final: dict[str, dict]) -> None:
    txs: dict[str, Transaction] = {}
    for tx_id, doc in final.items():
        try:
            txs[tx_id] = Transaction.from_record(doc)
        except (KeyError, TypeError, ValueError) as exc:
            report.problem(f"{tx_id}: unreadable transaction ({exc})")
    follow_ups: dict[str, list[Transaction]] = {}
    for tx in txs.values():
        report.records += 1
        report.by_status[str(tx.status)] = report.by_status.get(str(tx.status), 0) + 1
        if is_open({"status": str(tx.status), "stage": str(tx.stage)}):
            report.open += 1
        for name in ("amount_minor", "tip_minor", "refunded_minor"):
            value = getattr(tx, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                report.problem(f"{tx.id}: {name} is {value!r}, not a whole number of minor units ≥ 0")
        if not isinstance(tx.amount_minor, int) or not isinstance(tx.tip_minor, int):
            continue
        if isinstance(tx.refunded_minor, int) and tx.refunded_minor > tx.total_minor:
            report.problem(f"{tx.id}: refunded {tx.refunded_minor} is more than its total {tx.total_minor}")
        if tx.type == TxType.SALE:
            if tx.status == TxStatus.REFUNDED and tx.refunded_minor != tx.total_minor:
                report.problem(f"{tx.id}: refunded, but refunded_minor {tx.refunded_minor} ≠ total {tx.total_minor}")
            if tx.status == TxStatus.PARTIALLY_REFUNDED and not 0 < tx.refunded_minor < tx.total_minor:
                report.problem(f"{tx.id}: partially refunded, but refunded_minor is {tx.refunded_minor}")
            if tx.status not in (TxStatus.REFUNDED, TxStatus.PARTIALLY_REFUNDED) and tx.refunded_minor:
                report.problem(f"{tx.id}: {tx.status}, but refunded_minor is {tx.refunded_minor}")
            if tx.original_id:
                report.problem(f"{tx.id}: a sale with an original ({tx.original_id})")
            if tx.status in CAPTURED:
                totals = _totals(report, tx.currency)
                totals["sales_count"] += 1
                totals["sales_minor"] += tx.total_minor
        else:
            original = txs.get(tx.original_id or "")
            if not tx.original_id:
                report.problem(f"{tx.id}: a {tx.type} without an original")
            elif original is None:
                report.problem(f"{tx.id}: a {tx.type} of {tx.original_id}, which is not in the journal")
            else:
                if original.type != TxType.SALE:
                    report.problem(f"{tx.id}: a {tx.type} of {original.id}, which is a {original.type}")
                if original.currency != tx.currency:
                    report.problem(f"{tx.id}: in {tx.currency}, its original {original.id} in {original.currency}")
                follow_ups.setdefault(original.id, []).append(tx)
            if tx.type == TxType.REFUND and tx.status == TxStatus.APPROVED:
                totals = _totals(report, tx.currency)
                totals["refunds_count"] += 1
                totals["refunds_minor"] += tx.total_minor

    for original_id, items in follow_ups.items():
        original = txs[original_id]
        if any(t.status in (TxStatus.PENDING, TxStatus.OFFLINE) for t in items):
            continue  # recovery has not finished it yet: the books may lag
        refunded = sum(t.total_minor for t in items if t.type == TxType.REFUND and t.status == TxStatus.APPROVED)
        if refunded != original.refunded_minor:
            report.problem(
                f"{original_id}: approved refunds add up to {refunded}, but it says refunded_minor "
                f"{original.refunded_minor}"
            )
        voided = any(t.type == TxType.VOID and t.status == TxStatus.APPROVED for t in items)
        if voided != (original.status == TxStatus.VOIDED):
            report.problem(
                f"{original_id}: {original.status}, but "
                + ("an approved void points to it" if voided else "no approved void points to it")
            )
    for tx in txs.values():
        if tx.type == TxType.SALE and tx.status == TxStatus.VOIDED and tx.id not in follow_ups:
            report.problem(f"{tx.id}: voided, but no void points to it")
        if tx.type == TxType.SALE and tx.refunded_minor and tx.id not in follow_ups:
            report.problem(f"{tx.id}: refunded_minor {tx.refunded_minor}, but no refund points to it")

    for totals in report.totals.values():
        totals["net_minor"] = totals["sales_minor"] - totals["refunds_minor"]


def _totals(report: VerifyReport, currency: str) -> dict[str, int]:
    totals = report.totals.get(currency)
    if totals is None:
        totals = report.totals[currency] = {
            "sales_count": 0,
            "sales_minor": 0,
            "refunds_count": 0,
            "refunds_minor": 0,
            "net_minor": 0,
        }
    return totals
