"""mpos export: the journal as CSV, JSON or a beancount ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mpos_cli.commands import options


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    ctx: typer.Context,
    format_: str = typer.Option(..., "--format", help="csv, json or beancount.", metavar="FORMAT"),
    date: options.Date = None,
    date_from: options.DateFrom = None,
    date_to: options.DateTo = None,
    all_terminals: options.AllTerminals = False,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (mode 0600) instead of stdout."),
    per_item: bool = typer.Option(
        False, "--per-item", help="beancount: post each item of a sale to its own sub-account of Income:Sales."
    ),
) -> None:
    """Export the journal for a spreadsheet, a script or a beancount ledger."""
    from mpos_cli import export as core
    from mpos_cli.commands.app import App
    from mpos_cli.commands.views import CSV_HEADER, csv_row
    from mpos_cli.errors import UsageError

    app = App.of(ctx)
    # Everything is checked before the journal is opened or a file is created.
    if format_ not in core.FORMATS:
        raise UsageError(f"unknown export format {format_!r}", hint=f"use one of {', '.join(core.FORMATS)}")
    if per_item and format_ != "beancount":
        raise UsageError("--per-item is for --format beancount", hint="CSV and JSON carry the items already")
    first, last = options.date_range(date, date_from, date_to, today=app.env.business_date())
    header, row = CSV_HEADER, csv_row
    if all_terminals:
        from mpos_cli.hub import business

        business.open_view(app.env, app.pos.journal, app.message)
        transactions = business.transactions(app.env, app.pos.journal, first, last)
        header, row = CSV_HEADER + ["terminal_id"], lambda tx: csv_row(tx) + [tx.terminal_id or ""]
    else:
        transactions = app.pos.journal.iter(first, last, None)

    def write(out) -> int:
        if format_ == "csv":
            return core.write_csv(transactions, out, header=header, row=row)
        if format_ == "json":
            return core.write_json(transactions, out)
        span = f"business days {first or 'from the first'} to {last or 'the last'}"
        return core.write_beancount(transactions, out, title=f"mpos export, {span}", per_item=per_item)

    if output is None:
        write(app.env.stdout)
        return
    with core.output_file(output) as out:
        count = write(out)
    noun = "ledger transactions" if format_ == "beancount" else "transactions"
    app.message(f"Wrote {count} {noun} to {output}")
