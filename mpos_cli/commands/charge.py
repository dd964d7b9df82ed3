"""mpos charge: take a card payment."""

from __future__ import annotations

from typing import Optional

import typer

from mpos_cli.commands import options

SCENARIOS = ("contactless", "chip", "swipe", "removed", "no-card", "offline-decline", "issuer-auth-required")


def register(app: typer.Typer) -> None:
    # Extra words reach the command (ctx.args) so that `mpos charge 12.50 EUR`
    # gets an answer about the currency rather than "unexpected extra argument".
    app.command("charge", context_settings={"allow_extra_args": True})(charge)


def charge(
    ctx: typer.Context,
    amount: Optional[str] = typer.Argument(
        None, help="Amount as you would type it: 12.50, 12,50, €12.50, 12.50 EUR. Asked for when omitted."
    ),
    tip: Optional[str] = typer.Option(None, "--tip", help="Tip amount, added to the total (2.50, €2.50)."),
    tip_percent: Optional[str] = typer.Option(
        None, "--tip-percent", help="Tip as a percentage of the amount (10, 10%, 12.5), rounded half up to the minor unit."
    ),
    currency: Optional[str] = typer.Option(None, "--currency", help="ISO 4217 code (default from config, EUR)."),
    item: Optional[list[str]] = typer.Option(
        None, "--item", metavar="NAME[*QTY]",
        help="An item from the catalogue (mpos items), QTY times; repeatable. AMOUNT is then their sum.",
    ),
    note: Optional[str] = typer.Option(None, "--note", help="A note kept in the journal and on the receipt."),
    card: Optional[str] = typer.Option(
        None, "--card", help=f"Simulated reader only: {', '.join(SCENARIOS)}.", metavar="SCENARIO"
    ),
    offline: Optional[str] = typer.Option(
        None, "--offline", help="allow: store the payment if the acquirer is unreachable; never: fail instead."
    ),
    method: str = typer.Option(
        "card", "--method", metavar="card|qr",
        help="card: on the reader; qr: show a QR code for a bank transfer, pending until mpos bank import.",
    ),
    no_receipt: bool = typer.Option(False, "--no-receipt", help="Do not show a receipt."),
    json_: options.Json = False,
) -> None:
    """Take a payment: a card on the reader, or a QR code the customer pays by bank transfer."""
    from mpos_cli.errors import PaymentInterrupted

    try:
        _charge(ctx, amount, tip, tip_percent, currency, item, note, card, offline, method, no_receipt, json_)
    except KeyboardInterrupt:
        # Before the sale began (checks, catch-up of an earlier run): nothing of it was charged.
        raise PaymentInterrupted("cancelled, nothing was charged") from None


def _charge(ctx, amount, tip, tip_percent, currency, item, note, card, offline, method, no_receipt, json_) -> None:
    from mpos_cli import hooks
    from mpos_cli.commands.app import App
    from mpos_cli.commands.views import show_transaction
    from mpos_cli.errors import PaymentCancelled, PaymentDeclined, PaymentInterrupted, UsageError
    from mpos_cli.money import currency as to_currency
    from mpos_cli.money import parse_amount, parse_percent_basis_points, percent_of
    from mpos_cli.payments import Payments
    from mpos_cli.transaction import SaleRequest

    app = App.of(ctx)
    env = app.env
    # Everything the user typed is checked before anything is written.
    cur = to_currency(currency or env.config["currency"])
    if tip is not None and tip_percent is not None:
        raise UsageError("--tip and --tip-percent exclude each other", hint="give one of them")
    if card is not None and card not in SCENARIOS:
        raise UsageError(f"unknown card scenario {card!r}", hint=f"use one of {', '.join(SCENARIOS)}")
    if offline is not None and offline not in ("allow", "never"):
        raise UsageError(f"--offline takes allow or never, not {offline!r}")
    if len(ctx.args) > 1 or (ctx.args and amount is None):
        raise UsageError(f"unexpected words {' '.join(ctx.args)!r}", hint="mpos charge 12.50 (or 12.50 EUR)")
    if method not in ("card", "qr"):
        raise UsageError(f"--method takes card or qr, not {method!r}")
    if method == "qr" and (card is not None or offline is not None):
        raise UsageError("--card and --offline are for card payments, not --method qr")
    locale = env.config["locale"]
    amount_minor = None
    if amount is None and not item:
        amount_minor = _prompt_amount(app, cur, locale)
    elif amount is not None:
        if ctx.args:
            amount = f"{amount} {ctx.args[0]}"  # "12.50 EUR" as two words reads as it does as one
        amount_minor = parse_amount(amount, cur, locale=locale)
    items = ()
    if item:
        from mpos_cli.catalogue import Catalogue, basket_for_charge

        with Catalogue.of(env) as catalogue:
            basket = basket_for_charge(catalogue, item, cur, amount_minor)
        amount_minor, items = basket.total_minor, basket.items()
    tip_minor = 0
    if tip is not None:
        tip_minor = parse_amount(tip, cur, allow_zero=True, locale=locale)
    elif tip_percent is not None:
        tip_minor = percent_of(amount_minor, parse_percent_basis_points(tip_percent))
    pos = app.pos
    from mpos_cli.drivers.registry import check_spec, is_simulated

    check_spec(pos.env.config["reader"])  # a spec that names no reader is refused before anything is written
    if card is not None:
        if not is_simulated(pos.env.config["reader"]):
            raise UsageError("--card picks a simulated card and works only with the simulated reader "
                             "(reader sim, or serial: on the pseudo-terminal of mpos reader simulate --serial)")

    if method == "qr":
        from mpos_cli.commands.views import show_qr_sale
        from mpos_cli.qr_payments import start_sale

        app.recover_briefly()
        qr_request = SaleRequest(amount_minor=amount_minor, tip_minor=tip_minor, currency=cur, note=note, items=items)
        hooks.pre_charge(env, qr_request, app.message, method="qr")  # may refuse (exit 2) before anything is written
        tx = start_sale(pos, qr_request)
        show_qr_sale(app, tx, json_=json_, receipt=not no_receipt)
        app.post_hook("post-charge", tx)
        return
    request = SaleRequest(
        amount_minor=amount_minor, tip_minor=tip_minor, currency=cur, note=note, scenario=card,
        offline=offline or env.config["offline.mode"], items=items,
    )
    hooks.pre_charge(env, request, app.message)  # may refuse (exit 2) before the reader is asked
    app.recover_briefly()  # Ctrl-C here stops before this sale began (the catch-up is crash-safe)
    app.sandbox_banner(pos.gateway.sandbox)
    payments = Payments(pos, notify=app.progress, interrupts=app.interrupts)
    try:
        tx = payments.charge(request)
    except (PaymentDeclined, PaymentCancelled, PaymentInterrupted) as exc:
        if exc.transaction is not None:
            show_transaction(app, exc.transaction, json_=json_, receipt=not no_receipt)
            app.sync_after_payment()
            app.post_hook("post-charge", exc.transaction)
        raise
    show_transaction(app, tx, json_=json_, receipt=not no_receipt)
    app.sync_after_payment()
    app.post_hook("post-charge", tx)


PROMPT_TRIES = 3


def _prompt_amount(app, cur, locale) -> int:
    """Ask for the amount on a terminal: a typo is answered and asked again
    (three tries); Ctrl-D or an empty line gives up (exit 4), Ctrl-C too
    (exit 130); nothing was charged either way."""
    from mpos_cli.errors import PaymentCancelled, PaymentInterrupted, UsageError
    from mpos_cli.money import parse_amount

    env = app.env
    if not (env.stdin.isatty() if hasattr(env.stdin, "isatty") else False):
        raise UsageError("no amount given", hint="mpos charge 12.50 (or run it on a terminal to be asked)")
    for attempt in range(1, PROMPT_TRIES + 1):
        try:
            env.stderr.write(f"Amount ({cur.code}): ")
            env.stderr.flush()
            line = env.stdin.readline()
        except KeyboardInterrupt:
            env.stderr.write("\n")
            raise PaymentInterrupted("cancelled at the amount prompt, nothing was charged") from None
        if not line.strip():
            if line:  # an empty line: asked again, unless it was the last try
                if attempt < PROMPT_TRIES:
                    continue
            else:
                env.stderr.write("\n")  # Ctrl-D left the cursor after the prompt
            raise PaymentCancelled("no amount given, nothing was charged")
        try:
            return parse_amount(line.strip(), cur, locale=locale)
        except UsageError as exc:
            if attempt == PROMPT_TRIES:
                raise
            env.stderr.write(f"{exc.one_line()}; try again (Ctrl-C to stop)\n")
            env.stderr.flush()
    raise AssertionError("unreachable")
