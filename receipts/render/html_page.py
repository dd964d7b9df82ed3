"""A small self-contained HTML page: one file to e-mail or open, no external assets.

Every string from the receipt passes through ``html.escape``: merchant names
and notes are typed by people and must never become markup.
"""

from __future__ import annotations

from html import escape

from mpos_cli.receipts.model import Receipt, Row

_STYLE = """
body { margin: 0; padding: 1.5rem; background: #f4f4f2; color: #1b1b1b;
  font: 15px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
main { max-width: 24rem; margin: 0 auto; padding: 1.25rem 1.5rem; background: #fff;
  border: 1px solid #ddd; border-radius: 6px; }
header, .heading, .statement, .copy { text-align: center; }
h1 { font-size: 1.15rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: .75rem 0 0; letter-spacing: .05em; }
.outcome { font-weight: bold; letter-spacing: .05em; }
.positive { color: #17643a; } .negative { color: #a11d1d; } .neutral { color: #6b5200; }
.address, .timestamp, .merchant-ids { color: #555; margin: 0; }
table { width: 100%; border-collapse: collapse; margin: .5rem 0; }
th { text-align: left; font-weight: normal; color: #555; padding: .1rem 0; }
td { text-align: right; padding: .1rem 0; overflow-wrap: anywhere; }
tr.total th, tr.total td { font-weight: bold; font-size: 1.2rem; color: #1b1b1b;
  border-top: 1px solid #1b1b1b; padding-top: .35rem; }
hr { border: 0; border-top: 1px dashed #bbb; margin: .75rem 0; }
.sandbox { background: #1b1b1b; color: #ffd400; text-align: center; padding: .6rem;
  margin: 0 0 1rem; border-radius: 4px; }
.sandbox strong { display: block; font-size: 2rem; letter-spacing: .3em; }
.signature { margin: 1.5rem 0 .5rem; border-bottom: 1px solid #1b1b1b; height: 2.5rem; color: #555; }
.note, .reason { overflow-wrap: anywhere; }
.copy { font-weight: bold; letter-spacing: .1em; margin-top: 1rem; }
.pay { text-align: center; margin: .75rem 0; } .pay svg { width: 14rem; height: auto; }
"""


def render_html(receipt: Receipt) -> str:
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(receipt.heading)} - {_e(receipt.merchant_name)} - {_e(receipt.transaction_id)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    banner = _sandbox_banner(receipt)
    parts.append(banner)
    parts.append("<header>")
    parts.append(f"<h1>{_e(receipt.merchant_name)}</h1>")
    for line in receipt.merchant_address:
        parts.append(f'<p class="address">{_e(line)}</p>')
    if receipt.merchant_rows:
        ids = " · ".join(f"{_e(row.label)} {_e(row.value)}" for row in receipt.merchant_rows)
        parts.append(f'<p class="merchant-ids">{ids}</p>')
    parts.append("</header>")
    parts.append('<section class="heading">')
    parts.append(f"<h2>{_e(receipt.title)}</h2>")
    parts.append(f'<p class="outcome {_e(receipt.tone)}">{_e(receipt.outcome)}</p>')
    parts.append(f'<p class="timestamp">{_e(receipt.timestamp)}</p>')
    parts.append("</section>")
    parts.append(_table("items", receipt.item_rows))
    parts.append(_table("amounts", receipt.amount_rows, total=receipt.total))
    parts.append(_table("vat", receipt.vat_rows))
    if receipt.payment_rows:
        parts.append("<hr>")
        parts.append(_table("payment", receipt.payment_rows))
    if receipt.payment_qr:
        parts.append(_payment_qr(receipt.payment_qr))
    if receipt.card_rows or receipt.cvm:
        parts.append("<hr>")
        parts.append(_table("card", receipt.card_rows))
        if receipt.cvm:
            parts.append(f'<p class="cvm">{_e(receipt.cvm)}</p>')
    if receipt.signature_line:
        parts.append('<div class="signature">Signature:</div>')
    parts.append("<hr>")
    parts.append(_table("authorisation", receipt.authorisation_rows + receipt.reference_rows))
    if receipt.reason:
        parts.append(f'<p class="reason">Reason: {_e(receipt.reason)}</p>')
    if receipt.note:
        parts.append(f'<p class="note">Note: {_e(receipt.note)}</p>')
    parts.append("<hr>")
    parts.append(f'<p class="statement">{_e(receipt.statement)}</p>')
    parts.append(f'<p class="copy">{_e(receipt.copy_label)}</p>')
    parts.append(banner)
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(part for part in parts if part)


def _e(text: str) -> str:
    return escape(text, quote=True)


def _table(name: str, rows: tuple[Row, ...], total: Row | None = None) -> str:
    body = [f'<tr><th scope="row">{_e(r.label)}</th><td>{_e(r.value)}</td></tr>' for r in rows]
    if total is not None:
        body.append(f'<tr class="total"><th scope="row">{_e(total.label)}</th><td>{_e(total.value)}</td></tr>')
    if not body:
        return ""
    return f'<table class="{name}">\n' + "\n".join(body) + "\n</table>"


def _sandbox_banner(receipt: Receipt) -> str:
    if not receipt.sandbox_banner:
        return ""
    notice = f"<span>{_e(receipt.sandbox_notice)}</span>" if receipt.sandbox_notice else ""
    return f'<div class="sandbox" role="note"><strong>{_e(receipt.sandbox_banner)}</strong>{notice}</div>'


def _payment_qr(payload: str) -> str:
    """The code to pay with, inline SVG (no external asset); segno escapes nothing
    we pass it but the payload, which becomes modules, never markup."""
    from mpos_cli.qr import Drawing

    return f'<figure class="pay">{Drawing(payload).svg()}<figcaption>Scan with a banking app to pay</figcaption></figure>'
