"""mpos report: the X-report (totals so far; closes nothing)."""

from __future__ import annotations


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
) -> None:
    """Show totals by currency, card scheme, entry mode and hour (an X-report: closes nothing)."""
    from mpos_cli.commands.app import App
    from mpos_cli.reports import CSV_HEADER, build_report

    app = App.of(ctx)
    output = options.output_format(json_, csv_)
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
        app.print_json(result.to_public())
    elif output == "csv":
        app.print_csv(CSV_HEADER, result.csv_rows())
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
        sections = [("scheme", "By scheme"), ("entry_mode", "By entry mode"), ("hour", "By hour")]
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


def _amount(minor: int, cur, locale: str) -> str:
    """Grouped for reading, exact, with the ISO 4217 number of decimals."""
    from mpos_cli.money import format_amount

    return format_amount(minor, cur, locale)
