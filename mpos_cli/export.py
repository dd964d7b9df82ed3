"""Exports of the journal for other tools: CSV, JSON and a beancount ledger.

Every writer streams: it takes an iterable of transactions and a text stream
and never holds the range in memory.

- CSV and JSON carry every transaction of the range, whatever its status
  (the same rows as ``mpos journal list --csv`` and the same objects as
  ``--json``, SPEC §5); the reader filters.
- The beancount ledger carries only money that moved: captured sales
  (approved, partially refunded, refunded) and approved refunds. A voided,
  declined, cancelled, failed, pending or offline sale has no entry; a
  refund is its own transaction on its own date, never netted into its sale.

The ledger's default accounts (``DEFAULT_ACCOUNTS``, documented in
mpos-export(1)):

- ``Assets:Mpos:Clearing``: what the acquirer owes the trader until it pays
  out; each sale debits it with amount + tip, each refund credits it;
- ``Income:Sales``: the sale amount, without the tip;
- ``Income:Tips``: tips, as their own posting;
- ``Income:Refunds``: refunds, debited (a contra-income account);
- ``Assets:Bank``: QR payments, paid by bank transfer straight into the
  merchant's account (no acquirer clearing); a QR sale has its entry once
  ``mpos bank import`` approved it, dated on its business day.

With ``per_item`` (``mpos export --format beancount --per-item``) a sale with
items posts each line to its own sub-account of the sales account, named
from the item (``Income:Sales:Yoga-Class``), with the item's name and
quantity as posting metadata; a sale without items posts as before.
"""

from __future__ import annotations

import json
import re
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

from mpos_cli.errors import UsageError
from mpos_cli.money import currency, to_decimal_string
from mpos_cli.transaction import CAPTURED, Transaction, TxStatus, TxType

FORMATS = ("csv", "json", "beancount")

DEFAULT_ACCOUNTS = {
    "clearing_account": "Assets:Mpos:Clearing",
    "sales_account": "Income:Sales",
    "tips_account": "Income:Tips",
    "refunds_account": "Income:Refunds",
    "bank_account": "Assets:Bank",
}

# Beancount's own rule for account names with its default root names.
_ACCOUNT = re.compile(r"(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]*)+")


def write_csv(transactions: Iterable[Transaction], out: TextIO, *, header: list[str], row: Callable[[Transaction], list]) -> int:
    """One header line, then ``row(tx)`` per transaction; returns the count."""
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for tx in transactions:
        writer.writerow(row(tx))
        count += 1
    return count


def write_json(transactions: Iterable[Transaction], out: TextIO) -> int:
    """A JSON array of SPEC §5 objects, written one element at a time."""
    count = 0
    for tx in transactions:
        element = json.dumps(tx.to_public(), indent=2, ensure_ascii=False).replace("\n", "\n  ")
        out.write(("[\n  " if count == 0 else ",\n  ") + element)
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


def write_beancount(
    transactions: Iterable[Transaction],
    out: TextIO,
    *,
    clearing_account: str = DEFAULT_ACCOUNTS["clearing_account"],
    sales_account: str = DEFAULT_ACCOUNTS["sales_account"],
    tips_account: str = DEFAULT_ACCOUNTS["tips_account"],
    refunds_account: str = DEFAULT_ACCOUNTS["refunds_account"],
    bank_account: str = DEFAULT_ACCOUNTS["bank_account"],
    title: str | None = None,
    per_item: bool = False,
) -> int:
    """A ledger ``bean-check`` accepts; returns the number of ledger transactions.

    The ``open`` directives come last: which accounts and currencies are used
    is only known once the range has been read, and beancount reads the
    directives of a file in any order."""
    for account in (clearing_account, sales_account, tips_account, refunds_account, bank_account):
        if not _ACCOUNT.fullmatch(account):
            raise UsageError(f"not a beancount account name: {account!r}", hint="e.g. Assets:Mpos:Clearing")
    out.write(f"; {title or 'mpos export'}\n; amounts are exact; one transaction per sale and per refund\n")
    opened: dict[str, tuple[str, set[str]]] = {}  # account -> (first date, currencies)
    count = 0
    for tx in transactions:
        postings = _postings(
            tx, bank_account if tx.method == "qr" else clearing_account, sales_account, tips_account, refunds_account,
            per_item,
        )
        if not postings:
            continue
        cur = currency(tx.currency)
        out.write("\n" + _header(tx) + "\n")
        for key, value in _metadata(tx):
            out.write(f'  {key}: "{_quote(value)}"\n')
        width = max(len(account) for account, _, _ in postings) + 2
        for account, minor, meta in postings:
            out.write(f"  {account:<{width}}{to_decimal_string(minor, cur):>16} {cur.code}\n")
            for key, value in meta:
                out.write(f"    {key}: {value}\n")
            first, currencies = opened.setdefault(account, (tx.business_date, set()))
            opened[account] = (min(first, tx.business_date), currencies | {cur.code})
        count += 1
    if opened:
        out.write("\n; accounts\n")
        for account in sorted(opened):
            first, currencies = opened[account]
            out.write(f"{first} open {account} {','.join(sorted(currencies))}\n")
    return count


Posting = tuple[str, int, list[tuple[str, str]]]  # account, minor units, posting metadata


def _postings(tx: Transaction, clearing: str, sales: str, tips: str, refunds: str, per_item: bool) -> list[Posting]:
    if tx.type == TxType.SALE and tx.status in CAPTURED:
        postings: list[Posting] = [(clearing, tx.total_minor, [])]
        if per_item and tx.items:
            for item in tx.items:
                meta = [("item", f'"{_quote(item.name)}"'), ("quantity", str(item.quantity))]
                postings.append((item_account(sales, item.name), -item.total_minor, meta))
            rest = tx.amount_minor - sum(item.total_minor for item in tx.items)
            if rest:
                postings.append((sales, -rest, []))
        else:
            postings.append((sales, -tx.amount_minor, []))
        if tx.tip_minor:
            postings.append((tips, -tx.tip_minor, []))
        return postings
    if tx.type == TxType.REFUND and tx.status == TxStatus.APPROVED:
        # A refund's money is its amount, as settlement counts it; refunds carry no tip.
        return [(refunds, tx.amount_minor, []), (clearing, -tx.amount_minor, [])]
    return []


def item_account(sales_account: str, name: str) -> str:
    """The sub-account an item's sales post to: ``Yoga class`` →
    ``Income:Sales:Yoga-Class`` (beancount's account name rule: a capital
    letter or digit first, then letters, digits and dashes; accents dropped)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[A-Za-z0-9]+", ascii_name)
    component = "-".join(word[:1].upper() + word[1:] for word in words) or "Item"
    if not component[0].isalnum():
        component = "Item-" + component
    return f"{sales_account}:{component}"


def _header(tx: Transaction) -> str:
    card = f"{tx.card.scheme.upper()} {tx.card.masked_pan}" if tx.card else "card"
    if tx.method == "qr" and tx.qr:
        card = f"QR {tx.qr['reference']}"
    if tx.type == TxType.SALE:
        kind = "QR sale" if tx.method == "qr" else "Card sale"
        narration = kind + (f": {tx.note}" if tx.note else "")
    else:
        narration = f"Refund of {tx.original_id}" if tx.original_id else "Refund"
    tags = " #sandbox" if tx.sandbox else ""
    return f'{tx.business_date} * "{_quote(card)}" "{_quote(narration)}"{tags}'


def _metadata(tx: Transaction) -> Iterator[tuple[str, str]]:
    yield "mpos_id", tx.id
    yield "created_at", tx.created_at.isoformat()
    for key, value in (
        ("terminal_id", tx.terminal_id),
        ("original_id", tx.original_id),
        ("auth_code", tx.auth_code),
        ("scheme", tx.card.scheme if tx.card else None),
        ("masked_pan", tx.card.masked_pan if tx.card else None),
        ("entry_mode", tx.card.entry_mode if tx.card else None),
        ("method", tx.method if tx.method != "card" else None),
        ("creditor_reference", (tx.qr or {}).get("reference")),
        ("bank_reference", (tx.qr or {}).get("bank_reference")),
    ):
        if value:
            yield key, value


def _quote(text: str) -> str:
    """Inside a beancount string: backslash and quote escaped, one line."""
    return " ".join(str(text).replace("\\", "\\\\").replace('"', '\\"').split())


@contextmanager
def output_file(path: Path) -> Iterator[TextIO]:
    """A text stream that becomes ``path`` (mode 0600) only if the export
    finishes (``storage_util.atomic_file``): a failed or interrupted export
    leaves the old file, or none, never half a file."""
    import io

    from mpos_cli.storage_util import atomic_file

    path = Path(path)
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder", hint="give a file name")
    try:
        with atomic_file(path, create_folder=False) as raw:
            fh = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=True)
            yield fh
            fh.flush()
            fh.detach()  # atomic_file closes the raw stream after its fsync
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", hint="choose a folder you can write to") from exc
