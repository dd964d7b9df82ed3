"""mpos journal: list, show and verify what the terminal recorded."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import command_group, options

journal_app, register = command_group("journal", "List, show and verify the local journal.")


@journal_app.command("list")
def list_(
    ctx: typer.Context,
    date: options.Date = None,
    date_from: options.DateFrom = None,
    date_to: options.DateTo = None,
    status: Optional[str] = typer.Option(None, "--status", help="Only this status (approved, declined, ...)."),
    all_terminals: options.AllTerminals = False,
    all_: bool = typer.Option(False, "--all", help="The whole journal (without a range: today only)."),
    json_: options.Json = False,
    csv_: options.Csv = False,
) -> None:
    """List transactions, newest last (today, unless a range or --all is given)."""
    from mpos_cli.commands.app import App
    from mpos_cli.commands.views import CSV_HEADER, csv_row
    from mpos_cli.errors import UsageError
    from mpos_cli.transaction import TxStatus

    app = App.of(ctx)
    output = options.output_format(json_, csv_)
    today = app.env.business_date()
    first, last = options.date_range(date, date_from, date_to, today=today)
    if all_ and (first or last):
        raise UsageError("--all excludes --date, --from and --to")
    if not all_ and first is None and last is None:
        first = last = today
    if status is not None and status not in {s.value for s in TxStatus}:
        raise UsageError(f"unknown status {status!r}", hint="use one of " + ", ".join(s.value for s in TxStatus))
    if all_terminals:
        from mpos_cli.hub import business

        business.open_view(app.env, app.pos.journal, app.message)
        txs = business.transactions(app.env, app.pos.journal, first, last, [status] if status else None)
    else:
        txs = app.pos.journal.iter(first, last, TxStatus(status) if status else None)
    if output == "json":
        app.print_json([tx.to_public() for tx in txs])
    elif output == "csv":
        header, row = (CSV_HEADER + ["terminal_id"], lambda tx: csv_row(tx) + [tx.terminal_id or ""]) \
            if all_terminals else (CSV_HEADER, csv_row)
        app.print_csv(header, (row(tx) for tx in txs))
    else:
        _table(app, list(txs), terminals=all_terminals)


def _table(app, txs, *, terminals: bool = False) -> None:
    from mpos_cli.money import currency, format_money

    if not txs:
        app.message("No transactions (journal list shows today; --date, --from/--to or --all for more).")
        return
    columns = ("ID", "Time", "Type", "Status", "Total", "Paid by") + (("Terminal",) if terminals else ())
    rows = []
    for tx in txs:
        card = f"{tx.card.scheme} {tx.card.masked_pan[-4:]}" if tx.card else ""
        if tx.method == "qr" and tx.qr:
            card = f"QR {tx.qr['reference']}"
        rows.append((
            tx.id, tx.created_at.strftime("%Y-%m-%d %H:%M"), str(tx.type), str(tx.status),
            format_money(tx.total_minor, currency(tx.currency)), card,
            *((tx.terminal_id or "",) if terminals else ()),
        ))
    if not app.stdout_is_terminal:
        # Piped or redirected: the same columns as plain text, without loading rich.
        app.plain_table(columns, rows, right={"Total"})
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column == "Total" else "left")
    for row in rows:
        table.add_row(*row)
    app.console.print(table)


@journal_app.command("show")
def show(
    ctx: typer.Context,
    tx_id: str = typer.Argument(..., metavar="TX_ID", help="An id, the start of its last part (any case), or last."),
    json_: options.Json = False,
) -> None:
    """Show one transaction."""
    from mpos_cli.commands.app import App

    app = App.of(ctx)
    tx = app.pos.journal.resolve(tx_id)
    if json_:
        app.print_json(tx.to_public())
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
    if tx.method == "qr" and tx.qr:
        rows += [("Method", f"QR ({tx.qr['format']})"), ("Reference", tx.qr["reference"])]
        for label, key in (("Bank reference", "bank_reference"), ("Booked", "booking_date"), ("Expires", "expires_on")):
            if tx.qr.get(key) and not (key == "expires_on" and tx.status != "pending"):
                rows.append((label, tx.qr[key]))
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
    app.console.print(table)


@journal_app.command("verify")
def verify(ctx: typer.Context, json_: options.Json = False) -> None:
    """Check the whole journal: checksums, state transitions, totals."""
    from mpos_cli.commands.app import App
    from mpos_cli.errors import StateUnreadable

    app = App.of(ctx)
    report = app.pos.journal.verify()
    if json_:
        app.print_json(
            {"records": report.records, "clean": report.clean, "problems": report.problems, "warnings": report.warnings}
        )
    else:
        for warning in report.warnings:
            app.message(f"warning: {warning}")
        for problem in report.problems:
            app.message(f"problem: {problem}")
        app.console.print(
            f"{report.records} records checked: " + ("clean" if report.clean else f"{len(report.problems)} problems")
        )
    if not report.clean:
        raise StateUnreadable(f"the journal has {len(report.problems)} problems", hint="see the list above")
