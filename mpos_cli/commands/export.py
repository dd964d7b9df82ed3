"""mpos export: the journal as CSV, JSON or a beancount ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    format_: str = typer.Option(..., "--format", help="csv, json or beancount.", metavar="FORMAT"),
    date: Optional[str] = typer.Option(None, "--date", help="One business day, YYYY-MM-DD."),
    date_from: Optional[str] = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: the first)."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last day, YYYY-MM-DD (default: the last)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (mode 0600) instead of stdout."),
) -> None:
    """Export the journal for a spreadsheet, a script or a beancount ledger."""
    from mpos_cli import export as core
    from mpos_cli.commands import _common
    from mpos_cli.commands.journal import CSV_HEADER, csv_row, date_range
    from mpos_cli.errors import UsageError

    # Everything is checked before the journal is opened or a file is created.
    if format_ not in core.FORMATS:
        raise UsageError(f"unknown export format {format_!r}", hint=f"use one of {', '.join(core.FORMATS)}")
    first, last = date_range(date, date_from, date_to)
    transactions = _common.pos().journal.iter(first, last, None)

    def write(out) -> int:
        if format_ == "csv":
            return core.write_csv(transactions, out, header=CSV_HEADER, row=csv_row)
        if format_ == "json":
            return core.write_json(transactions, out)
        span = f"business days {first or 'from the first'} to {last or 'the last'}"
        return core.write_beancount(transactions, out, title=f"mpos export, {span}")

    if output is None:
        write(_common.env().stdout)
        return
    with core.output_file(output) as out:
        count = write(out)
    noun = "ledger transactions" if format_ == "beancount" else "transactions"
    _common.message(f"Wrote {count} {noun} to {output}")
