"""mpos refund / mpos void: give money back on an approved sale."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import options


def register(app: typer.Typer) -> None:
    app.command("refund")(refund)
    app.command("void")(void)


def refund(
    ctx: typer.Context,
    tx_id: str = typer.Argument(..., metavar="TX_ID", help="The sale to refund: an id, the start of its last part, or last."),
    amount: Optional[str] = typer.Option(
        None, "--amount", help="Partial refund amount, in the sale's currency: 5, 5.00, €5 (default: what is left)."
    ),
    json_: options.Json = False,
) -> None:
    """Refund an approved sale, fully or in part."""
    from mpos_cli.commands.app import App
    from mpos_cli.commands.views import show_transaction
    from mpos_cli.errors import UsageError
    from mpos_cli.money import CurrencyMismatch, currency, parse_amount
    from mpos_cli.payments import Payments

    app = App.of(ctx)
    pos = app.pos
    original = pos.journal.resolve(tx_id)
    from mpos_cli.qr_payments import reject_card_follow_up

    reject_card_follow_up(original, "refunded")
    amount_minor = None
    if amount is not None:
        try:
            amount_minor = parse_amount(amount, currency(original.currency), locale=pos.env.config["locale"])
        except CurrencyMismatch as exc:
            raise UsageError(exc.message, hint=f"a refund is in the currency of the sale, {original.currency}") from None
    app.recover_briefly()
    tx = Payments(pos, notify=app.progress, interrupts=app.interrupts).refund(original.id, amount_minor)
    show_transaction(app, tx, json_=json_)
    app.sync_after_payment()
    app.post_hook("post-refund", tx)


def void(
    ctx: typer.Context,
    tx_id: str = typer.Argument(..., metavar="TX_ID", help="The sale to void: an id, the start of its last part, or last."),
    json_: options.Json = False,
) -> None:
    """Void an approved sale that has not been settled yet, or cancel a QR payment not yet paid."""
    from mpos_cli.commands.app import App
    from mpos_cli.commands.views import show_transaction
    from mpos_cli.payments import Payments

    app = App.of(ctx)
    pos = app.pos
    original = pos.journal.resolve(tx_id)
    if original.method == "qr":
        from mpos_cli import qr_payments

        # Nothing was sent anywhere for a QR payment: no acquirer call.
        show_transaction(app, qr_payments.cancel(pos, original.id), json_=json_)
        return
    app.recover_briefly()
    tx = Payments(pos, notify=app.progress, interrupts=app.interrupts).void(original.id)
    show_transaction(app, tx, json_=json_)
    app.sync_after_payment()
    app.post_hook("post-refund", tx)
