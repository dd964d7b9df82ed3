"""mpos bank: confirm QR payments from the bank's own statement."""

from __future__ import annotations

from pathlib import Path

import typer

from mpos_cli.commands import options

bank_app = typer.Typer(help="Confirm QR payments from a bank statement (camt.053, camt.054, MT940).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")


@bank_app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="An ISO 20022 camt.053 or camt.054 XML file, or a SWIFT MT940 file."),
    json_: options.Json = False,
) -> None:
    """Match the statement's credits to pending QR payments and approve them; report the rest."""
    from mpos_cli.bank import import_statement
    from mpos_cli.commands.app import App

    app = App.of(ctx)
    result = import_statement(app.pos, file, notify=app.message)
    if json_:
        app.print_json(result.to_public())
    else:
        _render(app, result)


def _render(app, result) -> None:
    from rich.table import Table

    from mpos_cli.bank import ALREADY, AMOUNT_DIFFERS, MATCHED, REASONS
    from mpos_cli.money import currency, format_money

    statement = result.statement
    app.console.print(
        f"{statement.format} {statement.statement_id or ''}  account {statement.account or '-'}: "
        f"{len(statement.credits)} credits, {statement.debits} debits"
    )
    table = Table(box=None, pad_edge=False)
    for column in ("Result", "Payment", "Reference", "Amount", "Bank reference"):
        table.add_column(column, justify="right" if column == "Amount" else "left",
                         no_wrap=column in ("Payment", "Reference"))
    for outcome in result.outcomes:
        row = outcome.to_public()
        amount = format_money(row["amount_minor"], currency(row["currency"]))
        if outcome.kind == AMOUNT_DIFFERS:
            amount += f" (expected {format_money(row['expected_minor'], currency(row['expected_currency']))})"
        table.add_row(outcome.kind.replace("_", " "), row["id"] or "-", row["reference"] or "-", amount, row["bank_reference"])
    if result.outcomes:
        app.console.print(table)
    app.console.print(f"{result.changed} QR payments approved; {len(result.of(ALREADY))} already matched before")
    for outcome in result.outcomes:
        if outcome.kind not in (MATCHED, ALREADY):
            app.message(f"{outcome.credit.where}: {outcome.kind.replace('_', ' ')}: {REASONS[outcome.kind]}")
