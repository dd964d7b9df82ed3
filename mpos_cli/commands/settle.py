"""mpos settle: close the day's batch at the acquirer and reconcile it."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("settle")(settle)


def settle(
    date: Optional[str] = typer.Option(None, "--date", help="Settle up to this business day, YYYY-MM-DD (default today)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the local totals; close nothing."),
    json_: bool = typer.Option(False, "--json", help="Print the settlement summary as JSON."),
) -> None:
    """Close the open batch at the acquirer and compare its totals with the journal (exit 7 if they differ)."""
    from mpos_cli.commands import _common
    from mpos_cli.commands.journal import date_range
    from mpos_cli.errors import OutOfBalance
    from mpos_cli.settlement import settle as settle_batch

    day, _ = date_range(date, None, None)
    pos = _common.pos()
    if not dry_run:
        _common.startup_recovery(pos)
    result = settle_batch(pos, date=day, dry_run=dry_run, notify=_common.message)
    if json_:
        _common.print_json(result.to_public())
    else:
        _z_report(result)
    if result.status == "out_of_balance":
        raise OutOfBalance(
            f"batch {result.batch_id} is out of balance: {len(result.differences) + len(result.missing_at_acquirer) + len(result.unknown_to_journal)} differences",
            hint="see mpos settle --json and mpos sandbox ledger",
        )


def _z_report(result) -> None:
    from rich.table import Table

    from mpos_cli.commands import _common
    from mpos_cli.money import currency, format_money

    console = _common.console()
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
        _common.message(f"difference: {diff['currency']} {diff['field']}: journal {diff['local']}, acquirer {diff['acquirer']}")
    for ref in result.missing_at_acquirer:
        _common.message(f"difference: {ref} is in the journal but not in the acquirer's batch")
    for ref in result.unknown_to_journal:
        _common.message(f"difference: {ref} is in the acquirer's batch but not in the journal")
    if result.still_open:
        _common.message(f"{result.still_open} payments are still open or stored offline and are not in this batch")
