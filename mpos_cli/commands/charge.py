"""mpos charge: take a card payment."""

from __future__ import annotations

from typing import Optional

import typer

SCENARIOS = ("contactless", "chip", "swipe", "removed", "no-card", "offline-decline")


def register(app: typer.Typer) -> None:
    app.command("charge")(charge)


def charge(
    amount: Optional[str] = typer.Argument(None, help="Amount as you would type it: 12.50, 12,50, 12. Asked for when omitted."),
    tip: Optional[str] = typer.Option(None, "--tip", help="Tip amount, added to the total."),
    tip_percent: Optional[str] = typer.Option(None, "--tip-percent", help="Tip as a percentage of the amount."),
    currency: Optional[str] = typer.Option(None, "--currency", help="ISO 4217 code (default from config, EUR)."),
    note: Optional[str] = typer.Option(None, "--note", help="A note kept in the journal and on the receipt."),
    card: Optional[str] = typer.Option(
        None, "--card", help=f"Simulated reader only: {', '.join(SCENARIOS)}.", metavar="SCENARIO"
    ),
    offline: Optional[str] = typer.Option(
        None, "--offline", help="allow: store the payment if the acquirer is unreachable; never: fail instead."
    ),
    no_receipt: bool = typer.Option(False, "--no-receipt", help="Do not show a receipt."),
    json_: bool = typer.Option(False, "--json", help="Print the transaction as JSON."),
) -> None:
    """Take a card payment on the reader."""
    from mpos_cli.commands import _common
    from mpos_cli.errors import PaymentCancelled, PaymentDeclined, UsageError
    from mpos_cli.money import currency as to_currency
    from mpos_cli.money import parse_amount, parse_percent_basis_points, percent_of
    from mpos_cli.payments import Payments, SaleRequest

    env = _common.env()
    # Everything the user typed is checked before anything is written.
    cur = to_currency(currency or env.config["currency"])
    if tip is not None and tip_percent is not None:
        raise UsageError("--tip and --tip-percent exclude each other", hint="give one of them")
    if card is not None and card not in SCENARIOS:
        raise UsageError(f"unknown card scenario {card!r}", hint=f"use one of {', '.join(SCENARIOS)}")
    if offline is not None and offline not in ("allow", "never"):
        raise UsageError(f"--offline takes allow or never, not {offline!r}")
    if amount is None:
        amount = _prompt_amount(env, cur)
    amount_minor = parse_amount(amount, cur)
    tip_minor = 0
    if tip is not None:
        tip_minor = parse_amount(tip, cur, allow_zero=True)
    elif tip_percent is not None:
        tip_minor = percent_of(amount_minor, parse_percent_basis_points(tip_percent))
    pos = _common.pos()
    if card is not None and pos.env.config["reader"] != "sim":
        raise UsageError("--card picks a simulated card and works only with the simulated reader (reader sim)")

    _common.startup_recovery(pos)
    notify = _common.message
    _common.sandbox_banner(pos.gateway.sandbox)
    payments = Payments(pos, notify=notify)
    request = SaleRequest(
        amount_minor=amount_minor, tip_minor=tip_minor, currency=cur, note=note, scenario=card,
        offline=offline or env.config["offline.mode"],
    )
    try:
        tx = payments.charge(request)
    except (PaymentDeclined, PaymentCancelled) as exc:
        if exc.transaction is not None:
            _show(exc.transaction, json_=json_, receipt=not no_receipt)
        raise
    _show(tx, json_=json_, receipt=not no_receipt)


def _prompt_amount(env, cur) -> str:
    from mpos_cli.errors import UsageError

    if not (env.stdin.isatty() if hasattr(env.stdin, "isatty") else False):
        raise UsageError("no amount given", hint="mpos charge 12.50 (or run it on a terminal to be asked)")
    env.stderr.write(f"Amount ({cur.code}): ")
    env.stderr.flush()
    line = env.stdin.readline()
    if not line:
        raise UsageError("no amount given")
    return line.strip()


def _show(tx, *, json_: bool, receipt: bool) -> None:
    from mpos_cli.commands import _common

    if json_:
        _common.print_json(tx.to_public())
        return
    if receipt:
        from mpos_cli.commands.receipt import render_for_terminal

        render_for_terminal(tx)
    else:
        _common.console().print(_summary_line(tx))


def _summary_line(tx) -> str:
    from mpos_cli.money import currency, format_money

    cur = currency(tx.currency)
    text = f"{tx.status.upper()}  {format_money(tx.total_minor, cur)}  {tx.id}"
    if tx.sandbox:
        text = "SANDBOX  " + text
    return text
