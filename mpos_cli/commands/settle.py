"""mpos settle: close the day's batch at the acquirer and reconcile it."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import options


def register(app: typer.Typer) -> None:
    app.command("settle")(settle)


def settle(
    ctx: typer.Context,
    date: Optional[str] = typer.Option(None, "--date", help="Settle up to this business day, YYYY-MM-DD (default today)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the local totals; close nothing."),
    json_: options.Json = False,
) -> None:
    """Close the open batch at the acquirer and compare its totals with the journal (exit 7 if they differ)."""
    from mpos_cli import hooks
    from mpos_cli.commands.app import App
    from mpos_cli.errors import OutOfBalance
    from mpos_cli.settlement import settle as settle_batch

    app = App.of(ctx)
    day, _ = options.date_range(date, None, None)
    if not dry_run:
        app.recover_briefly()
    result = settle_batch(app.pos, date=day, dry_run=dry_run, notify=app.message)
    if json_:
        app.print_json(result.to_public())
    else:
        _z_report(app, result)
    if not dry_run:
        hooks.after(app.env, "post-settle", result, app.message)
    if result.status == "out_of_balance":
        raise OutOfBalance(
            f"batch {result.batch_id} is out of balance: {len(result.differences) + len(result.missing_at_acquirer) + len(result.unknown_to_journal)} differences",
            hint="see mpos settle --json and mpos sandbox ledger",
        )


def _z_report(app, result) -> None:
    from rich.table import Table

    from mpos_cli.money import currency, format_money

    console = app.console
    title = "Z-report (dry run)" if result.dry_run else f"Z-report  batch {result.batch_id or '-'}"
    console.print(f"{title}  up to {result.date}  status: {result.status.upper()}")
    if not result.totals:
        console.print("Nothing to settle.")
    table = Table(box=None, pad_edge=False)
    for column in ("Currency", "Sales", "Sales total", "Tips", "Refunds", "Refunds total", "Net", "Acquirer net"):
        table.add_column(column, justify="left" if column == "Currency" else "right")
    for code, totals in sorted(result.totals.items()):
        cur = currency(code)
        theirs = (result.acquirer_totals or {}).get(code)
        table.add_row(
            code, str(totals["sales_count"]), format_money(totals["sales_minor"], cur),
            format_money(totals["tips_minor"], cur), str(totals["refunds_count"]),
            format_money(totals["refunds_minor"], cur), format_money(totals["net_minor"], cur),
            format_money(theirs["net_minor"], cur) if theirs else "-",
        )
    if result.totals:
        console.print(table)
    for diff in result.differences:
        app.message(f"difference: {diff['currency']} {diff['field']}: journal {diff['local']}, acquirer {diff['acquirer']}")
    for ref in result.missing_at_acquirer:
        app.message(f"difference: {ref} is in the journal but not in the acquirer's batch")
    for ref in result.unknown_to_journal:
        app.message(f"difference: {ref} is in the acquirer's batch but not in the journal")
    if result.still_open:
        app.message(f"{result.still_open} payments are still open or stored offline and are not in this batch")
    _qr_section(app, result.qr)


def _qr_section(app, qr) -> None:
    """QR payments went straight to the bank account: shown apart, never in the card batch."""
    from rich.table import Table

    from mpos_cli.money import currency, format_money

    if not qr or not qr.get("totals"):
        return
    first, last = qr.get("date_from"), qr["date_to"]
    span = f"up to {last}" if first is None else last if first == last else f"{first} to {last}"
    app.console.print(f"QR payments {span}: bank transfers, not in the card batch")
    table = Table(box=None, pad_edge=False)
    for column in ("Currency", "Paid", "Paid total", "Awaiting transfer", "Awaiting total"):
        table.add_column(column, justify="left" if column == "Currency" else "right")
    for code, totals in sorted(qr["totals"].items()):
        cur = currency(code)
        table.add_row(
            code, str(totals["paid_count"]), format_money(totals["paid_minor"], cur),
            str(totals["pending_count"]), format_money(totals["pending_minor"], cur),
        )
    app.console.print(table)
