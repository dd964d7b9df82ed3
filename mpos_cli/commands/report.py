"""mpos report: the X-report (totals so far; closes nothing)."""

from __future__ import annotations


from typing import Optional

import typer

from mpos_cli.commands import options

# A range longer than this gets a progress bar on a terminal: a month of
# journal reads in a blink, a year is worth watching.
LONG_RANGE_DAYS = 31


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    date: options.Date = None,
    date_from: options.DateFrom = None,
    date_to: options.DateTo = None,
    all_terminals: options.AllTerminals = False,
    json_: options.Json = False,
    csv_: options.Csv = False,
    by: Optional[str] = typer.Option(
        None, "--by", metavar="BREAKDOWN",
        help="item: per-item totals (quantity, sales, amount) instead of scheme, entry mode and hour.",
    ),
) -> None:
    """Show totals by currency, payment method, card scheme, entry mode and hour, or by item (an X-report: closes nothing)."""
    from mpos_cli.commands.app import App
    from mpos_cli.errors import UsageError
    from mpos_cli.reports import CSV_HEADER, ITEM_CSV_HEADER, build_report

    app = App.of(ctx)
    output = options.output_format(json_, csv_)
    if by not in (None, "item"):
        raise UsageError(f"--by takes item, not {by!r}", hint="leave it out for scheme, entry mode and hour")
    first, last = options.date_range(date, date_from, date_to, today=app.env.business_date())
    env = app.env
    today = env.business_date()
    if first is None and last is None:
        first = last = today
    elif last is None:
        last = today
    terminals = None
    if all_terminals:
        from mpos_cli.hub import business

        view = business.open_view(env, app.pos.journal, app.message)
        terminals = view.terminals()
        source = business.transactions(env, app.pos.journal, first, last)
    else:
        source = app.pos.journal.iter(first, last, None)
    transactions = _with_progress(app, source, first, last)
    result = build_report(transactions, date_from=first, date_to=last, tz=env.timezone, generated_at=env.now(),
                          terminals=terminals)
    if output == "json":
        document = result.to_public()
        if by == "item":
            for cur_report in document["currencies"].values():
                for name in ("by_scheme", "by_entry_mode", "by_hour"):
                    del cur_report[name]
        app.print_json(document)
    elif output == "csv":
        if by == "item":
            app.print_csv(ITEM_CSV_HEADER, result.item_csv_rows())
        else:
            app.print_csv(CSV_HEADER, result.csv_rows())
    elif by == "item":
        _render_items(app, result)
    else:
        _render(app, result)


def _with_progress(app, transactions, first: str | None, last: str):
    """Pass transactions through, drawing a progress bar on stderr for long
    ranges when stderr is a terminal (never into a pipe or a log)."""
    from datetime import date as Date

    env = app.env
    days = (Date.fromisoformat(last) - Date.fromisoformat(first)).days + 1 if first else None
    if not app.stderr_is_terminal or (days is not None and days <= LONG_RANGE_DAYS):
        yield from transactions
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(file=env.stderr, force_terminal=True, no_color="NO_COLOR" in env.environ)
    columns = [TextColumn("Reading the journal"), BarColumn()]
    columns.append(TextColumn("{task.fields[day]}") if days else MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("read", total=days, day="")
        start = Date.fromisoformat(first) if first else None
        furthest = ""
        for count, tx in enumerate(transactions, 1):
            if start is None:
                if count % 500 == 0:
                    progress.update(task, completed=count)
            elif tx.business_date > furthest:
                # By day, not by transaction: the number of transactions is not known up front.
                furthest = tx.business_date
                progress.update(task, completed=(Date.fromisoformat(furthest) - start).days + 1, day=furthest)
            yield tx


def _render(app, result) -> None:
    from rich.table import Table

    from mpos_cli.money import currency

    console = app.console
    locale = app.env.config["locale"]
    span = result.date_from if result.date_from == result.date_to else f"{result.date_from or 'start'} to {result.date_to}"
    title = f"X-report {span}" if result.terminals is None else \
        f"Business report {span}, terminals {', '.join(result.terminals)}"
    console.print(title + ("  SANDBOX" if result.sandbox else "") + "  (nothing closed; mpos settle closes the day)")
    if not result.currencies:
        console.print("No payments in this range.")
        return
    columns = ("Sales", "Taken", "Tips", "Refunds", "Refunded", "Net", "Voided", "Declined")
    for code in sorted(result.currencies):
        cur_report = result.currencies[code]
        cur = currency(code)
        # Amounts without a symbol (the table's title names the currency) so a
        # narrow terminal never cuts a number short.
        table = Table(title=f"{code} ({cur.name})", title_justify="left", box=None, pad_edge=False)
        table.add_column(no_wrap=True)
        for column in columns:
            table.add_column(column, justify="right", no_wrap=True, min_width=len(column))

        def row(label, tally, cur=cur):
            money = [_amount(minor, cur, locale) for minor in (tally.sales_minor, tally.tips_minor, tally.refunds_minor, tally.net_minor)]
            return (
                label, str(tally.sales_count), money[0], money[1], str(tally.refunds_count), money[2], money[3],
                str(tally.voids_count), str(tally.declines_count),
            )

        table.add_row(*row("All", cur_report.totals), style="bold")
        sections = [
            ("method", "By method"), ("scheme", "By scheme"), ("entry_mode", "By entry mode"), ("hour", "By hour"),
        ]
        if result.terminals is not None:
            sections.insert(0, ("terminal", "By terminal"))
        for name, title in sections:
            table.add_section()
            table.add_row(title, style="italic")
            for key, tally in cur_report.breakdown(name):
                label = f"  {key}:00" if name == "hour" else f"  {key}"
                table.add_row(*row(label, tally))
        console.print(table)
        offline = cur_report.totals
        if offline.offline_count:
            console.print(
                f"{offline.offline_count} offline payments ({_amount(offline.offline_minor, cur, locale)} {code})"
                " are stored and not yet forwarded: not in the totals (mpos offline forward)"
            )
        if offline.pending_count:
            console.print(
                f"{offline.pending_count} QR payments ({_amount(offline.pending_minor, cur, locale)} {code})"
                " await their bank transfer: not in the totals (mpos bank import)"
            )


def _render_items(app, result) -> None:
    from rich.table import Table

    from mpos_cli.money import currency

    console = app.console
    locale = app.env.config["locale"]
    span = result.date_from if result.date_from == result.date_to else f"{result.date_from or 'start'} to {result.date_to}"
    console.print(f"X-report by item {span}" + ("  SANDBOX" if result.sandbox else ""))
    if not any(cur_report.by_item for cur_report in result.currencies.values()):
        console.print("No items sold in this range.")
        return
    for code in sorted(result.currencies):
        cur_report = result.currencies[code]
        if not cur_report.by_item:
            continue
        cur = currency(code)
        table = Table(title=f"{code} ({cur.name})", title_justify="left", box=None, pad_edge=False)
        for column, justify in (("Item", "left"), ("Quantity", "right"), ("Sales", "right"), ("Taken", "right")):
            table.add_column(column, justify=justify, no_wrap=True)
        for name, tally in cur_report.items():
            table.add_row(name, str(tally.quantity), str(tally.sales_count), _amount(tally.sales_minor, cur, locale))
        console.print(table)


def _amount(minor: int, cur, locale: str) -> str:
    """Grouped for reading, exact, with the ISO 4217 number of decimals."""
    from mpos_cli.money import format_amount

    return format_amount(minor, cur, locale)
