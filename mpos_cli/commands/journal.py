"""mpos journal: list, show and verify what the terminal recorded."""

from __future__ import annotations

from typing import Optional

import typer

journal_app = typer.Typer(help="List, show and verify the local journal.", no_args_is_help=True)

CSV_HEADER = [
    "id", "type", "status", "created_at", "business_date", "currency", "amount", "tip", "total",
    "refunded", "scheme", "masked_pan", "entry_mode", "cvm", "response_code", "auth_code",
    "offline", "sandbox", "original_id", "note",
]


def register(app: typer.Typer) -> None:
    app.add_typer(journal_app, name="journal")


def date_range(date: str | None, date_from: str | None, date_to: str | None) -> tuple[str | None, str | None]:
    """Check ``--date`` / ``--from`` / ``--to`` (YYYY-MM-DD) and return (from, to)."""
    from datetime import date as Date

    from mpos_cli.errors import UsageError

    if date and (date_from or date_to):
        raise UsageError("--date excludes --from and --to")
    for label, value in (("--date", date), ("--from", date_from), ("--to", date_to)):
        if value is not None:
            try:
                Date.fromisoformat(value)
            except ValueError:
                raise UsageError(f"{label} wants a date as YYYY-MM-DD, not {value!r}") from None
            if len(value) != 10:
                raise UsageError(f"{label} wants a date as YYYY-MM-DD, not {value!r}")
    if date:
        return date, date
    if date_from and date_to and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}")
    return date_from, date_to


def csv_row(tx) -> list:
    from mpos_cli.money import currency, to_decimal_string

    cur = currency(tx.currency)
    card = tx.card
    return [
        tx.id, tx.type, tx.status, tx.created_at.isoformat(), tx.business_date, tx.currency,
        to_decimal_string(tx.amount_minor, cur), to_decimal_string(tx.tip_minor, cur),
        to_decimal_string(tx.total_minor, cur), to_decimal_string(tx.refunded_minor, cur),
        card.scheme if card else "", card.masked_pan if card else "", card.entry_mode if card else "",
        card.cvm if card else "", tx.response_code or "", tx.auth_code or "", str(tx.offline).lower(),
        str(tx.sandbox).lower(), tx.original_id or "", tx.note or "",
    ]


@journal_app.command("list")
def list_(
    date: Optional[str] = typer.Option(None, "--date", help="One business day, YYYY-MM-DD."),
    date_from: Optional[str] = typer.Option(None, "--from", help="First day, YYYY-MM-DD."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last day, YYYY-MM-DD."),
    status: Optional[str] = typer.Option(None, "--status", help="Only this status (approved, declined, ...)."),
    json_: bool = typer.Option(False, "--json", help="Print a JSON array."),
    csv_: bool = typer.Option(False, "--csv", help="Print CSV with a header row."),
) -> None:
    """List transactions, newest last."""
    from mpos_cli.commands import _common
    from mpos_cli.errors import UsageError
    from mpos_cli.transaction import TxStatus

    if json_ and csv_:
        raise UsageError("--json and --csv exclude each other")
    first, last = date_range(date, date_from, date_to)
    if status is not None and status not in {s.value for s in TxStatus}:
        raise UsageError(f"unknown status {status!r}", hint="use one of " + ", ".join(s.value for s in TxStatus))
    txs = _common.pos().journal.iter(first, last, TxStatus(status) if status else None)
    if json_:
        _common.print_json([tx.to_public() for tx in txs])
    elif csv_:
        _common.print_csv(CSV_HEADER, (csv_row(tx) for tx in txs))
    else:
        _table(list(txs))


def _table(txs) -> None:
    from rich.table import Table

    from mpos_cli.commands import _common
    from mpos_cli.money import currency, format_money

    if not txs:
        _common.message("No transactions.")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "Time", "Type", "Status", "Total", "Card"):
        table.add_column(column, justify="right" if column == "Total" else "left")
    for tx in txs:
        card = f"{tx.card.scheme} {tx.card.masked_pan[-4:]}" if tx.card else ""
        table.add_row(
            tx.id, tx.created_at.strftime("%Y-%m-%d %H:%M"), str(tx.type), str(tx.status),
            format_money(tx.total_minor, currency(tx.currency)), card,
        )
    _common.console().print(table)


@journal_app.command("show")
def show(
    tx_id: str = typer.Argument(..., metavar="TX_ID"),
    json_: bool = typer.Option(False, "--json", help="Print the transaction as JSON."),
) -> None:
    """Show one transaction."""
    from mpos_cli.commands import _common

    tx = _common.pos().journal.get(tx_id)
    if json_:
        _common.print_json(tx.to_public())
        return
    from rich.table import Table

    from mpos_cli.money import currency, format_money

    cur = currency(tx.currency)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("ID", tx.id), ("Type", str(tx.type)), ("Status", str(tx.status)),
        ("Created", tx.created_at.isoformat()), ("Amount", format_money(tx.amount_minor, cur)),
        ("Tip", format_money(tx.tip_minor, cur)), ("Total", format_money(tx.total_minor, cur)),
    ]
    if tx.refunded_minor:
        rows.append(("Refunded", format_money(tx.refunded_minor, cur)))
    if tx.card:
        rows += [("Card", f"{tx.card.scheme} {tx.card.masked_pan}"), ("Entry", f"{tx.card.entry_mode}, CVM {tx.card.cvm}")]
    for label, value in (
        ("Response", tx.response_code), ("Auth code", tx.auth_code), ("Original", tx.original_id),
        ("Note", tx.note), ("Message", tx.message), ("Batch", tx.batch_id),
    ):
        if value:
            rows.append((label, value))
    if tx.offline:
        rows.append(("Offline", "yes"))
    if tx.sandbox:
        rows.append(("Mode", "SANDBOX"))
    for label, value in rows:
        table.add_row(label, value)
    _common.console().print(table)


@journal_app.command("verify")
def verify(json_: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Check the whole journal: checksums, state transitions, totals."""
    from mpos_cli.commands import _common
    from mpos_cli.errors import StateUnreadable

    report = _common.pos().journal.verify()
    if json_:
        _common.print_json({"records": report.records, "clean": report.clean, "problems": report.problems})
    else:
        for problem in report.problems:
            _common.message(f"problem: {problem}")
        _common.console().print(
            f"{report.records} records checked: " + ("clean" if report.clean else f"{len(report.problems)} problems")
        )
    if not report.clean:
        raise StateUnreadable(f"the journal has {len(report.problems)} problems", hint="see the list above")
