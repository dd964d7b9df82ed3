"""The X-report: what the terminal took over a range of business days, without
closing anything (``mpos settle`` is the Z-report that closes the batch).

Totals are per currency and, within each, per payment method (``card``,
``qr``), per card scheme, per entry mode and per hour of the day in the
business's local time. The ``card`` line follows settlement, so an X-report
run just before ``mpos settle`` shows the batch's sales, refunds and net
there; QR payments are paid by bank transfer outside the card batch and
count in the totals once ``mpos bank import`` approved them (their scheme
is the code's format, ``epc`` or ``emvco``, their entry mode ``qr``):

- a *sale* is a sale that took money: approved, partially refunded or
  refunded (the refund is its own line); ``sales_minor`` is amount + tip;
- a *refund* is an approved refund, counted on its own business day;
- a voided sale took no money: it is counted in ``voids_count`` only;
- a declined sale is counted in ``declines_count`` only;
- an offline sale (stored, not yet forwarded) is not money yet: it is in
  ``offline_count``/``offline_minor`` and not in sales or net;
- a QR sale still awaiting its transfer is in ``pending_count``/
  ``pending_minor`` only;
- pending, cancelled and failed transactions, declined refunds and the void
  records themselves move no money and are left out.

Per item (``by_item``, ``mpos report --by item``): of the sales that took
money, how many of each item were sold (``quantity``), in how many sales
(``sales_count``) and for how much (``sales_minor``, the lines' amounts
without tips). Refunds are amounts, not items: they stay in the totals.

The report is built in one pass over an iterable of transactions, so a year of
journal is never held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, tzinfo
from typing import Any, Iterable, Iterator

from mpos_cli.transaction import CAPTURED, Transaction, TxStatus, TxType

# Column order of the CSV (after currency, breakdown, key) and of every tally.
METRICS = (
    "sales_count", "sales_minor", "tips_minor", "refunds_count", "refunds_minor", "net_minor",
    "voids_count", "declines_count", "offline_count", "offline_minor", "pending_count", "pending_minor",
)
CSV_HEADER = ["currency", "breakdown", "key", *METRICS]
BREAKDOWNS = ("method", "scheme", "entry_mode", "hour")
ITEM_CSV_HEADER = ["currency", "item", "quantity", "sales_count", "sales_minor"]
UNKNOWN = "unknown"  # a transaction without card data (it never reached the reader)


@dataclass
class Tally:
    """Counts and minor-unit sums of one slice of the report."""

    sales_count: int = 0
    sales_minor: int = 0
    tips_minor: int = 0
    refunds_count: int = 0
    refunds_minor: int = 0
    voids_count: int = 0
    declines_count: int = 0
    offline_count: int = 0
    offline_minor: int = 0
    pending_count: int = 0
    pending_minor: int = 0

    @property
    def net_minor(self) -> int:
        return self.sales_minor - self.refunds_minor

    def add(self, kind: str, tx: Transaction) -> None:
        if kind == "sale":
            self.sales_count += 1
            self.sales_minor += tx.total_minor
            self.tips_minor += tx.tip_minor
        elif kind == "refund":
            self.refunds_count += 1
            self.refunds_minor += tx.amount_minor  # as settlement counts it; refunds carry no tip
        elif kind == "void":
            self.voids_count += 1
        elif kind == "decline":
            self.declines_count += 1
        elif kind == "offline":
            self.offline_count += 1
            self.offline_minor += tx.total_minor
        elif kind == "pending":
            self.pending_count += 1
            self.pending_minor += tx.total_minor

    def to_public(self) -> dict[str, int]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: (self.net_minor if name == "net_minor" else values[name]) for name in METRICS}


def kind_of(tx: Transaction) -> str | None:
    """Which line of the report a transaction counts on, or None if it moved no money."""
    if tx.type == TxType.SALE:
        if tx.status in CAPTURED:
            return "sale"
        if tx.status == TxStatus.PENDING and tx.method == "qr":
            return "pending"  # a QR code shown, the transfer not yet on the statement
        return {
            TxStatus.VOIDED: "void",
            TxStatus.DECLINED: "decline",
            TxStatus.OFFLINE: "offline",
        }.get(tx.status)
    if tx.type == TxType.REFUND and tx.status == TxStatus.APPROVED:
        return "refund"
    return None


@dataclass
class ItemTally:
    """One item's sales in the range (captured sales only)."""

    quantity: int = 0
    sales_count: int = 0
    sales_minor: int = 0

    def to_public(self) -> dict[str, int]:
        return {"quantity": self.quantity, "sales_count": self.sales_count, "sales_minor": self.sales_minor}


@dataclass
class CurrencyReport:
    currency: str
    totals: Tally = field(default_factory=Tally)
    by_method: dict[str, Tally] = field(default_factory=dict)
    by_scheme: dict[str, Tally] = field(default_factory=dict)
    by_entry_mode: dict[str, Tally] = field(default_factory=dict)
    by_hour: dict[int, Tally] = field(default_factory=dict)
    by_terminal: dict[str, Tally] | None = None  # only in a report across terminals
    by_item: dict[str, ItemTally] = field(default_factory=dict)

    def add(self, kind: str, tx: Transaction, hour: int) -> None:
        if tx.method == "qr":
            scheme, entry_mode = (tx.qr or {}).get("format", UNKNOWN), "qr"
        else:
            scheme = tx.card.scheme if tx.card and tx.card.scheme else UNKNOWN
            entry_mode = tx.card.entry_mode if tx.card and tx.card.entry_mode else UNKNOWN
        self.totals.add(kind, tx)
        self.by_method.setdefault(tx.method, Tally()).add(kind, tx)
        self.by_scheme.setdefault(scheme, Tally()).add(kind, tx)
        self.by_entry_mode.setdefault(entry_mode, Tally()).add(kind, tx)
        self.by_hour.setdefault(hour, Tally()).add(kind, tx)
        if self.by_terminal is not None:
            self.by_terminal.setdefault(tx.terminal_id or UNKNOWN, Tally()).add(kind, tx)
        if kind == "sale":
            for item in tx.items:
                tally = self.by_item.setdefault(item.name, ItemTally())
                tally.quantity += item.quantity
                tally.sales_count += 1
                tally.sales_minor += item.total_minor

    def items(self) -> list[tuple[str, ItemTally]]:
        """Items by amount taken, largest first, then by name."""
        return sorted(self.by_item.items(), key=lambda pair: (-pair[1].sales_minor, pair[0]))

    def breakdown(self, name: str) -> list[tuple[str, Tally]]:
        """One breakdown as (key, tally) pairs in display order; hours as ``"09"``."""
        if name == "hour":
            return [(f"{hour:02d}", self.by_hour[hour]) for hour in sorted(self.by_hour)]
        if name == "terminal":
            return sorted((self.by_terminal or {}).items())
        table = {"method": self.by_method, "scheme": self.by_scheme}.get(name, self.by_entry_mode)
        return sorted(table.items())

    def breakdowns(self) -> tuple[str, ...]:
        return BREAKDOWNS + (("terminal",) if self.by_terminal is not None else ())

    def to_public(self) -> dict[str, Any]:
        return {
            "totals": self.totals.to_public(),
            **{f"by_{name}": {key: tally.to_public() for key, tally in self.breakdown(name)}
               for name in self.breakdowns()},
            "by_item": {name: tally.to_public() for name, tally in self.items()},
        }


@dataclass
class Report:
    date_from: str | None
    date_to: str | None
    generated_at: datetime
    currencies: dict[str, CurrencyReport] = field(default_factory=dict)
    transactions_read: int = 0
    sandbox: bool = False  # any sandbox transaction in the range
    terminals: list[str] | None = None  # a business report across these terminals (--all-terminals)

    def to_public(self) -> dict[str, Any]:
        business = {} if self.terminals is None else {"terminals": self.terminals}
        return {
            "report": "x" if self.terminals is None else "business",
            **business,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "generated_at": self.generated_at.isoformat(),
            "sandbox": self.sandbox,
            "transactions_read": self.transactions_read,
            "currencies": {code: self.currencies[code].to_public() for code in sorted(self.currencies)},
        }

    def csv_rows(self) -> Iterator[list]:
        """Rows under ``CSV_HEADER``: per currency one ``total`` row (key ``all``),
        then one row per method, scheme, entry mode and hour."""
        for code in sorted(self.currencies):
            cur = self.currencies[code]
            yield [code, "total", "all", *cur.totals.to_public().values()]
            for name in cur.breakdowns():
                for key, tally in cur.breakdown(name):
                    yield [code, name, key, *tally.to_public().values()]

    def item_csv_rows(self) -> Iterator[list]:
        """Rows under ``ITEM_CSV_HEADER``: per currency, one row per item."""
        for code in sorted(self.currencies):
            for name, tally in self.currencies[code].items():
                yield [code, name, *tally.to_public().values()]


def build_report(
    transactions: Iterable[Transaction],
    *,
    date_from: str | None,
    date_to: str | None,
    tz: tzinfo,
    generated_at: datetime,
    terminals: list[str] | None = None,
) -> Report:
    """Aggregate ``transactions`` (already limited to the range) in one pass.

    ``tz`` is the business's zone: the hour of a payment is the hour on the
    trader's clock, whatever offset the journal recorded it with.
    ``terminals``: a business report across those terminals (``report
    --all-terminals``), with a breakdown by terminal; its totals are the sum
    of each terminal's own report."""
    report = Report(date_from=date_from, date_to=date_to, generated_at=generated_at, terminals=terminals)
    for tx in transactions:
        report.transactions_read += 1
        report.sandbox = report.sandbox or tx.sandbox
        kind = kind_of(tx)
        if kind is None:
            continue
        hour = tx.created_at.astimezone(tz).hour
        cur_report = report.currencies.get(tx.currency)
        if cur_report is None:
            cur_report = report.currencies[tx.currency] = CurrencyReport(
                tx.currency, by_terminal={} if terminals is not None else None)
        cur_report.add(kind, tx, hour)
    return report
