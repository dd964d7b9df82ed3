"""mpos refund / mpos void: give money back on an approved sale."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("refund")(refund)
    app.command("void")(void)


def refund(
    tx_id: str = typer.Argument(..., metavar="TX_ID", help="The sale to refund."),
    amount: Optional[str] = typer.Option(None, "--amount", help="Partial refund amount (default: what is left)."),
    json_: bool = typer.Option(False, "--json", help="Print the refund as JSON."),
) -> None:
    """Refund an approved sale, fully or in part."""
    from mpos_cli.commands import _common
    from mpos_cli.money import currency, parse_amount
    from mpos_cli.payments import Payments

    pos = _common.pos()
    original = pos.journal.get(tx_id)
    amount_minor = parse_amount(amount, currency(original.currency)) if amount is not None else None
    _common.startup_recovery(pos)
    tx = Payments(pos, notify=_common.message).refund(tx_id, amount_minor)
    _show(tx, json_)


def void(
    tx_id: str = typer.Argument(..., metavar="TX_ID", help="The sale to void."),
    json_: bool = typer.Option(False, "--json", help="Print the void as JSON."),
) -> None:
    """Void an approved sale that has not been settled yet."""
    from mpos_cli.commands import _common
    from mpos_cli.payments import Payments

    pos = _common.pos()
    pos.journal.get(tx_id)
    _common.startup_recovery(pos)
    tx = Payments(pos, notify=_common.message).void(tx_id)
    _show(tx, json_)


def _show(tx, json_: bool) -> None:
    from mpos_cli.commands import _common
    from mpos_cli.commands.charge import _summary_line

    if json_:
        _common.print_json(tx.to_public())
    else:
        _common.console().print(f"{_summary_line(tx)}  ({tx.type} of {tx.original_id})")
