"""mpos items: the catalogue of things for sale (the till's quick keys, charge --item)."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import command_group, options

items_app, register = command_group("items", "The item catalogue: names, prices and VAT rates for quick sales.")


@items_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The item's name, unique whatever its case (no '*')."),
    price: str = typer.Argument(..., help="Its price as you would type it: 12.50, 12,50, €12.50."),
    currency: Optional[str] = typer.Option(None, "--currency", help="ISO 4217 code (default from config, EUR)."),
    vat: Optional[str] = typer.Option(
        None, "--vat", metavar="RATE", help="VAT rate included in the price, in percent: 20, 5.5, 0."
    ),
    json_: options.Json = False,
) -> None:
    """Add an item to the catalogue."""
    from mpos_cli.catalogue import Catalogue
    from mpos_cli.commands.app import App
    from mpos_cli.money import currency as to_currency
    from mpos_cli.money import format_money, parse_amount, parse_percent_basis_points

    app = App.of(ctx)
    env = app.env
    cur = to_currency(currency or env.config["currency"])
    unit_minor = parse_amount(price, cur, locale=env.config["locale"])
    vat_basis_points = parse_percent_basis_points(vat, what="a VAT rate") if vat is not None else None
    with Catalogue.of(env) as catalogue:
        item = catalogue.add(name, unit_minor, cur, vat_basis_points)
    if json_:
        app.print_json(item.to_public())
    else:
        vat_text = f", VAT {item.to_public()['vat_percent']}% included" if vat_basis_points is not None else ""
        app.console.print(f"Added {item.name}: {format_money(item.unit_minor, cur, env.config['locale'])}{vat_text}")


@items_app.command("list")
def list_(ctx: typer.Context, json_: options.Json = False) -> None:
    """List the catalogue in quick-key order."""
    from mpos_cli.catalogue import Catalogue
    from mpos_cli.commands.app import App

    app = App.of(ctx)
    with Catalogue.of(app.env) as catalogue:
        items = catalogue.items()
    if json_:
        app.print_json([item.to_public() for item in items])
        return
    if not items:
        app.console.print('The catalogue is empty (mpos items add "Yoga class" 12).')
        return
    from rich.table import Table

    from mpos_cli.money import currency, format_money

    table = Table(box=None, pad_edge=False)
    table.add_column("Key", justify="right")
    table.add_column("Item")
    table.add_column("Price", justify="right")
    table.add_column("VAT", justify="right")
    locale = app.env.config["locale"]
    for number, item in enumerate(items, 1):
        public = item.to_public()
        vat = f"{public['vat_percent']}%" if public["vat_percent"] is not None else ""
        table.add_row(str(number), item.name, format_money(item.unit_minor, currency(item.currency), locale), vat)
    app.console.print(table)


@items_app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(..., help="The item's name, in any case.")) -> None:
    """Remove an item from the catalogue (past sales keep their lines)."""
    from mpos_cli.catalogue import Catalogue
    from mpos_cli.commands.app import App

    app = App.of(ctx)
    with Catalogue.of(app.env) as catalogue:
        item = catalogue.remove(name)
    app.message(f"Removed {item.name}")
