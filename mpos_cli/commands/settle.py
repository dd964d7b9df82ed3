"""mpos settle: close the day's batch at the acquirer and reconcile it."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import options


def register(app: typer.Typer) -> None:
    app.command("settle")(settle)


def settle(
    ctx: typer.Context,
    date: Optional[str] = typer.Option(
        None, "--date", metavar="D", help="Settle up to this business day: YYYY-MM-DD, today or yesterday (default today)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the local totals; close nothing."),
    show: Optional[str] = typer.Option(
        None, "--show", metavar="BATCH", help="Show a batch closed before (its id, its reference, or last); close nothing."
    ),
    json_: options.Json = False,
) -> None:
    """Close the open batch at the acquirer and compare its totals with the journal (exit 7 if they differ)."""
    from mpos_cli.commands.app import App
    from mpos_cli.errors import OutOfBalance, UsageError
    from mpos_cli.settlement import closed_batch
    from mpos_cli.settlement import settle as settle_batch

    app = App.of(ctx)
    if show is not None:
        if date is not None or dry_run:
            raise UsageError("--show excludes --date and --dry-run")
        result = closed_batch(app.env, show)
    else:
        day, _ = options.date_range(date, None, None, today=app.env.business_date())
        if not dry_run:
            app.recover_briefly()
        result = settle_batch(app.pos, date=day, dry_run=dry_run, notify=app.progress)
    if json_:
        app.print_json(result.to_public())
    else:
        _z_report(app, result)
    if not dry_run:
        app.post_hook("post-settle", result)
    if result.status == "out_of_balance":
        count = len(result.differences) + len(result.missing_at_acquirer) + len(result.unknown_to_journal)
        raise OutOfBalance(
            f"batch {result.batch_id} is out of balance: {count} differences",
            hint=None if show else f"listed above; mpos settle --show {result.batch_id} shows them again",
        )


def _z_report(app, result) -> None:
    from rich.table import Table

    from mpos_cli.money import currency, format_money

    console = app.console
    title = "Z-report (dry run)" if result.dry_run else f"Z-report  batch {result.batch_id or '-'}"
    if result.closed_at:
        title += f"  closed {result.closed_at[:16].replace('T', ' ')}"
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
    # The differences are the result itself: on stdout, with the report (never quieted).
    for diff in result.differences:
        cur = currency(diff["currency"])
        shown = (lambda v: str(v)) if diff["field"].endswith("_count") else (lambda v: format_money(v, cur))
        console.print(f"difference: {diff['currency']} {diff['field'].replace('_minor', '').replace('_', ' ')}: "
                      f"journal {shown(diff['local'])}, acquirer {shown(diff['acquirer'])}", markup=False)
    for ref in result.missing_at_acquirer:
        console.print(f"difference: {ref} is in the journal but not in the acquirer's batch", markup=False)
    for ref in result.unknown_to_journal:
        console.print(f"difference: {ref} is in the acquirer's batch but not in the journal", markup=False)
    net = "  ".join(
        f"net {format_money(totals['net_minor'], currency(code))}" for code, totals in sorted(result.totals.items())
    )
    app.result(f"{result.status.upper().replace('_', ' ')}  batch {result.batch_id or '-'}  {net}".rstrip(),
               ok=result.status != "out_of_balance")
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
