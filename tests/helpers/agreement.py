"""Do the journal and the acquirer's ledger tell the same story?

The rules (SPEC §9: never lose a payment, never charge twice):

- every journal sale counted as paid (approved, refunded, partially
  refunded) is approved at the acquirer under its own reference, and the
  refunded amounts agree; a voided sale is voided there;
- every approval the acquirer holds for a sale is either paid in the journal
  or reversed at the acquirer: no money taken without a record;
- a sale the journal calls declined, failed or cancelled holds no live
  approval at the acquirer;
- references are the idempotency keys, unique in the ledger: one reference,
  one charge; nothing in the ledger is unknown to the journal unless it was
  never approved or was reversed;
- after recovery, nothing is open (pending, reversal due) in the journal.
"""

from __future__ import annotations

from pathlib import Path

PAID = {"approved", "refunded", "partially_refunded"}
LIVE = {"approved", "settled", "refunded", "partially_refunded"}


def journal_transactions(home: Path) -> list:
    from mpos_cli.journal import Journal

    journal = Journal(Path(home) / "journal")
    try:
        return list(journal.iter())
    finally:
        journal.close()


def open_transactions(home: Path) -> list:
    from mpos_cli.journal import Journal

    journal = Journal(Path(home) / "journal")
    try:
        return journal.open_transactions()
    finally:
        journal.close()


def ledger_of(data_dir: Path) -> list[dict]:
    """The acquirer's ledger read straight from its store (no HTTP)."""
    from mpos_cli.gateway.sandbox.store import SandboxStore, database_path

    return SandboxStore(database_path(Path(data_dir))).ledger()


def disagreements(transactions: list, ledger: list[dict], *, allow_open: bool = False) -> list[str]:
    problems: list[str] = []
    refs = [entry["reference"] for entry in ledger]
    if len(refs) != len(set(refs)):
        problems.append("a reference appears twice in the ledger")
    held = {entry["reference"]: entry for entry in ledger}
    by_id = {tx.id: tx for tx in transactions}
    for tx in transactions:
        if tx.type != "sale":
            continue
        if not allow_open and (tx.status == "pending" or str(tx.stage) not in ("done", "stored")):
            problems.append(f"{tx.id} is still open ({tx.status}, {tx.stage})")
        if not allow_open and tx.status == "offline":
            problems.append(f"{tx.id} is still queued offline")
        entry = held.get(tx.id)
        live = entry is not None and entry["type"] == "sale" and entry["response_code"] == "00" \
            and entry["status"] in LIVE
        if tx.status in PAID:
            if not live:
                problems.append(f"{tx.id} is {tx.status} in the journal but "
                                f"{entry['status'] if entry else 'absent'} at the acquirer")
            elif entry["total_minor"] != tx.total_minor or entry["refunded_minor"] != tx.refunded_minor:
                problems.append(f"{tx.id}: amounts differ (journal {tx.total_minor}/{tx.refunded_minor}, "
                                f"acquirer {entry['total_minor']}/{entry['refunded_minor']})")
        elif tx.status == "voided":
            if entry is None or entry["status"] != "reversed" or not entry.get("voided_by"):
                problems.append(f"{tx.id} is voided in the journal but not at the acquirer")
        elif tx.status in ("declined", "failed", "cancelled") and live:
            if not (allow_open and str(tx.stage) == "reversal_due"):
                problems.append(f"{tx.id} is {tx.status} in the journal but approved at the acquirer")
        elif tx.status in ("pending", "offline") and live and not allow_open:
            problems.append(f"{tx.id} is {tx.status} in the journal but approved at the acquirer")
    for entry in ledger:
        if entry["type"] != "sale" or entry["response_code"] != "00" or entry["status"] not in LIVE:
            continue
        tx = by_id.get(entry["reference"])
        if tx is None:
            problems.append(f"the acquirer approved {entry['reference']}, which the journal does not know")
        elif tx.status not in PAID and not (allow_open and tx.status in ("pending", "offline")) \
                and not (allow_open and str(tx.stage) == "reversal_due"):
            problems.append(f"the acquirer holds {entry['reference']} as {entry['status']}; the journal says {tx.status}")
    return problems
