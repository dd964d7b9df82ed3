"""How a transaction is shown, shared by every command that shows one
(charge, refund, void, journal, receipt, export)."""

from __future__ import annotations

from mpos_cli.commands.app import App

CSV_HEADER = [
    "id", "type", "status", "created_at", "business_date", "currency", "amount", "tip", "total",
    "refunded", "scheme", "masked_pan", "entry_mode", "cvm", "response_code", "auth_code",
    "offline", "sandbox", "original_id", "note", "method", "qr_format", "qr_reference", "bank_reference",
]


def csv_row(tx) -> list:
    from mpos_cli.money import currency, to_decimal_string

    cur = currency(tx.currency)
    card = tx.card
    qr = tx.qr or {}
    return [
        tx.id, tx.type, tx.status, tx.created_at.isoformat(), tx.business_date, tx.currency,
        to_decimal_string(tx.amount_minor, cur), to_decimal_string(tx.tip_minor, cur),
        to_decimal_string(tx.total_minor, cur), to_decimal_string(tx.refunded_minor, cur),
        card.scheme if card else "", card.masked_pan if card else "", card.entry_mode if card else "",
        card.cvm if card else "", tx.response_code or "", tx.auth_code or "", str(tx.offline).lower(),
        str(tx.sandbox).lower(), tx.original_id or "", tx.note or "", tx.method,
        qr.get("format", ""), qr.get("reference", ""), qr.get("bank_reference", ""),
    ]


def summary_line(tx) -> str:
    """``APPROVED  €12.50  20261124-K3Q9FX``: one result line."""
    from mpos_cli.money import currency, format_money

    text = f"{tx.status.upper()}  {format_money(tx.total_minor, currency(tx.currency))}  {tx.id}"
    if tx.type != "sale":
        text += f"  ({tx.type} of {tx.original_id})"
    return "SANDBOX  " + text if tx.sandbox else text


def receipt_model(app: App, tx, copy: str = "customer"):
    from mpos_cli.receipts import build_receipt

    return build_receipt(tx, copy=copy, locale=app.env.config["locale"], **app.pos.merchant)


def show_receipt(app: App, tx) -> None:
    """The receipt on the terminal: rich on a terminal, plain text when piped."""
    from mpos_cli.receipts import render

    app.console.print(render(receipt_model(app, tx), "rich"))


GOOD_OUTCOMES = ("approved", "refunded", "partially_refunded", "voided", "pending", "offline")


def show_transaction(app: App, tx, *, json_: bool, receipt: bool = False) -> None:
    """A command's result: JSON, or (the receipt and) the one result line,
    green for money that moved as asked, red otherwise (colour only on a terminal)."""
    if json_:
        app.print_json(tx.to_public())
        return
    if receipt:
        show_receipt(app, tx)
    app.result(summary_line(tx), ok=str(tx.status) in GOOD_OUTCOMES)


def show_qr_sale(app: App, tx, *, json_: bool, receipt: bool) -> None:
    """A QR payment on the screen: the code in half-block characters, for a
    phone to read off a laptop, and what happens next."""
    from mpos_cli.money import currency, format_money
    from mpos_cli.qr import Drawing

    drawing = Drawing(tx.qr["payload"]).terminal_text()
    if json_:
        app.print_json(tx.to_public())
        # One JSON document on stdout; a person at the terminal still needs the code.
        if app.stderr_is_terminal:
            app.env.stderr.write(drawing)
            app.env.stderr.flush()
        return
    if receipt:
        show_receipt(app, tx)
    else:
        app.result(summary_line(tx), ok=True)
    kind = "SEPA credit transfer (EPC QR)" if tx.qr["format"] == "epc" else "EMVCo QR"
    out = app.env.stdout
    out.write(drawing)
    out.write(f"Scan to pay {format_money(tx.total_minor, currency(tx.currency))} by {kind}, reference {tx.qr['reference']}\n")
    out.flush()
    app.message(
        f"Pending until the transfer is on the bank statement (mpos bank import FILE); "
        f"mpos void {tx.id} cancels it; it expires unpaid on {tx.qr['expires_on']}."
    )
