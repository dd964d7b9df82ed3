"""The receipt: everything a renderer shows, already worded and formatted.

``build_receipt`` is the only place that reads a Transaction, formats money
and decides what a copy may show. Renderers receive display-ready strings
and flags and never compute or format an amount, so the four formats can
never disagree about a figure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mpos_cli.transaction import Transaction

Copy = Literal["customer", "merchant"]
# How an outcome should look: renderers map tones to colours or emphasis.
Tone = Literal["positive", "negative", "neutral"]

TYPE_TITLES = {"sale": "SALE", "refund": "REFUND", "void": "VOID"}

# status -> (words on the receipt, tone)
OUTCOMES: dict[str, tuple[str, Tone]] = {
    "approved": ("APPROVED", "positive"),
    "offline": ("STORED OFFLINE", "neutral"),
    "declined": ("DECLINED", "negative"),
    "failed": ("FAILED", "negative"),
    "cancelled": ("CANCELLED", "neutral"),
    "pending": ("NOT COMPLETED", "neutral"),
    "voided": ("VOIDED", "neutral"),
    "refunded": ("REFUNDED", "neutral"),
    "partially_refunded": ("PARTIALLY REFUNDED", "neutral"),
}

# Statuses in which the customer's money moved (or will, once forwarded).
_MONEY_TAKEN = frozenset({"approved", "offline", "voided", "refunded", "partially_refunded"})

# ISO 8583 field 39 codes a small merchant meets, plus the EMV offline
# authorisation codes (Y1/Z1: decided by the card; Y3/Z3: could not go online).
RESPONSE_MEANINGS = {
    "00": "Approved",
    "01": "Refer to card issuer",
    "03": "Invalid merchant",
    "04": "Pick up card",
    "05": "Do not honour",
    "06": "Error",
    "10": "Partially approved",
    "12": "Invalid transaction",
    "13": "Invalid amount",
    "14": "Invalid card number",
    "30": "Format error",
    "41": "Lost card",
    "43": "Stolen card",
    "51": "Insufficient funds",
    "54": "Expired card",
    "55": "Incorrect PIN",
    "57": "Not permitted to cardholder",
    "58": "Not permitted to terminal",
    "61": "Exceeds amount limit",
    "62": "Restricted card",
    "65": "Exceeds frequency limit",
    "75": "PIN tries exceeded",
    "91": "Issuer unavailable",
    "96": "System malfunction",
    "Y1": "Approved offline by the card",
    "Z1": "Declined offline by the card",
    "Y3": "Approved offline (unable to go online)",
    "Z3": "Declined offline (unable to go online)",
}

SCHEME_NAMES = {
    "visa": "VISA",
    "mastercard": "Mastercard",
    "maestro": "Maestro",
    "amex": "American Express",
    "discover": "Discover",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "diners": "Diners Club",
}

ENTRY_MODES = {"contactless": "Contactless", "chip": "Chip", "swipe": "Swiped"}

# 9F27 cryptogram information data: the top two bits say which cryptogram the card produced.
_CRYPTOGRAM_TYPES = {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}


@dataclass(frozen=True)
class Row:
    """One label and its value, e.g. ``Amount`` / ``€12.50``."""

    label: str
    value: str


@dataclass(frozen=True)
class Receipt:
    merchant_name: str
    merchant_address: tuple[str, ...]  # one entry per printed line
    merchant_rows: tuple[Row, ...]  # merchant id, terminal id
    title: str  # SALE | REFUND | VOID
    outcome: str  # APPROVED | DECLINED | STORED OFFLINE | ...
    tone: Tone
    timestamp: str  # "2026-11-24 14:03:07 +01:00"
    amount_rows: tuple[Row, ...]  # amount, tip, refunded so far
    total: Row
    card_rows: tuple[Row, ...]  # card, scheme, entry mode, AID, application
    cvm: str | None  # "PIN verified online", "No CVM required", ...
    signature_line: bool  # print "Signature: ______" (merchant copy, signature CVM)
    authorisation_rows: tuple[Row, ...]  # auth code, response, TVR, TSI, cryptogram
    reference_rows: tuple[Row, ...]  # transaction id, original transaction
    note: str | None
    reason: str | None  # why it did not go through, for people
    statement: str  # what the outcome means for the customer's money
    copy_label: str  # CUSTOMER COPY | MERCHANT COPY
    sandbox: bool
    sandbox_banner: str | None  # "SANDBOX", shown big when ``sandbox``
    sandbox_notice: str | None  # the banner's small print
    transaction_id: str  # for the QR code of printed receipts
    currency_code: str = ""  # ISO 4217, e.g. "EUR"
    currency_symbol: str = ""  # the symbol the amounts carry in this locale, e.g. "€", "JP¥"
    item_rows: tuple[Row, ...] = ()  # "2 x Mat @ €3.00" / "€6.00": what was sold, one row per line
    vat_rows: tuple[Row, ...] = ()  # "incl. VAT 20% on €12.00" / "€2.00": one row per rate
    payment_rows: tuple[Row, ...] = ()  # QR payments: how it is paid, the creditor reference
    payment_qr: str | None = None  # the payload of a QR payment still to be paid: scan to pay

    @property
    def heading(self) -> str:
        return f"{self.title} {self.outcome}"

    def with_printable_currency(self, can_print: Callable[[str], bool]) -> "Receipt":
        """This receipt for a device that prints only the text ``can_print`` accepts.

        When the amounts' currency symbol cannot be printed (a printer code
        page without it), the amounts show its compatibility form if that
        prints (Unicode NFKC: the full-width ``￥`` of ja_JP as ``¥``), or else
        the ISO 4217 code (``€12.50`` → ``EUR 12.50``, ``12,50 zł`` →
        ``12,50 PLN``). The figures stay exactly as formatted.
        """
        symbol = self.currency_symbol
        if not symbol or not self.currency_code or can_print(symbol):
            return self
        narrow = unicodedata.normalize("NFKC", symbol)
        if narrow != symbol and can_print(narrow):
            return self._with_money_text(lambda value: value.replace(symbol, narrow))
        return self._with_money_text(lambda value: _code_for_symbol(value, symbol, self.currency_code))

    def _with_money_text(self, change: Callable[[str], str]) -> "Receipt":
        return replace(
            self,
            amount_rows=tuple(Row(row.label, change(row.value)) for row in self.amount_rows),
            total=Row(self.total.label, change(self.total.value)),
            item_rows=tuple(Row(change(row.label), change(row.value)) for row in self.item_rows),
            vat_rows=tuple(Row(change(row.label), change(row.value)) for row in self.vat_rows),
        )


def build_receipt(
    tx: "Transaction",
    *,
    merchant_name: str,
    merchant_address: str = "",
    merchant_id: str | None = None,
    terminal_id: str | None = None,
    copy: Copy = "customer",
    locale: str = "en_IE",
) -> Receipt:
    """The receipt of ``tx`` for one copy; amounts formatted for ``locale``."""
    from babel.numbers import get_currency_symbol

    from mpos_cli.money import currency, format_basis_points, format_money
    from mpos_cli.transaction import vat_by_rate

    if copy not in ("customer", "merchant"):
        raise ValueError(f"copy must be 'customer' or 'merchant', not {copy!r}")
    cur = currency(tx.currency)
    type_ = str(tx.type)
    status = str(tx.status)
    outcome, tone = OUTCOMES.get(status, (status.upper().replace("_", " "), "neutral"))
    awaiting_transfer = tx.method == "qr" and status == "pending"
    if awaiting_transfer:
        outcome = "AWAITING PAYMENT"

    def money(minor: int) -> str:
        return format_money(minor, cur, locale)

    amount_rows = [Row(_amount_label(type_), money(tx.amount_minor))]
    if tx.tip_minor:
        amount_rows.append(Row("Tip", money(tx.tip_minor)))
    if tx.refunded_minor and type_ == "sale":
        amount_rows.append(Row("Refunded", money(tx.refunded_minor)))

    # What was sold: quantity, name, unit price (when more than one) and the
    # line's amount; then the VAT the prices include, per rate (on each rate's
    # total, as the VAT Directive 2006/112/EC art. 226 (10) lists it per rate).
    item_rows = tuple(
        Row(f"{item.quantity} x {item.name}" + (f" @ {money(item.unit_minor)}" if item.quantity > 1 else ""),
            money(item.total_minor))
        for item in tx.items
    )
    vat_rows = tuple(
        Row(f"incl. VAT {format_basis_points(line.basis_points)}% on {money(line.gross_minor)}", money(line.vat_minor))
        for line in vat_by_rate(tx.items)
    )

    merchant_id = merchant_id or tx.merchant_id
    terminal_id = terminal_id or tx.terminal_id
    merchant_rows = tuple(
        Row(label, value) for label, value in (("Merchant ID", merchant_id), ("Terminal ID", terminal_id)) if value
    )

    reference_rows = [Row("Transaction", tx.id)]
    if tx.original_id:
        reference_rows.append(Row("Original transaction", tx.original_id))

    return Receipt(
        merchant_name=" ".join(merchant_name.split()),
        merchant_address=tuple(line.strip() for line in merchant_address.splitlines() if line.strip()),
        merchant_rows=merchant_rows,
        title=TYPE_TITLES.get(type_, type_.upper()),
        outcome=outcome,
        tone=tone,
        timestamp=format_timestamp(tx.created_at),
        amount_rows=tuple(amount_rows),
        total=Row("TOTAL", money(tx.total_minor)),
        card_rows=_card_rows(tx, copy),
        cvm=_cvm_text(tx),
        signature_line=copy == "merchant" and tx.card is not None and tx.card.cvm == "signature"
        and status in _MONEY_TAKEN,
        authorisation_rows=_authorisation_rows(tx),
        reference_rows=tuple(reference_rows),
        note=tx.note.strip() if tx.note and tx.note.strip() else None,
        reason=_sentence(tx.message) if status not in _MONEY_TAKEN and tx.message and not awaiting_transfer else None,
        statement=_qr_statement(status) if tx.method == "qr" else _statement(type_, status),
        copy_label="MERCHANT COPY" if copy == "merchant" else "CUSTOMER COPY",
        sandbox=tx.sandbox,
        sandbox_banner="SANDBOX" if tx.sandbox else None,
        sandbox_notice="Test transaction - no real money moved" if tx.sandbox else None,
        transaction_id=tx.id,
        currency_code=cur.code,
        currency_symbol=get_currency_symbol(cur.code, locale),  # the one format_money (babel) printed
        item_rows=item_rows,
        vat_rows=vat_rows,
        payment_rows=_payment_rows(tx),
        payment_qr=tx.qr["payload"] if awaiting_transfer and tx.qr else None,
    )


# Directional marks babel puts around right-to-left symbols (ar_KW "‏12.345 د.ك.‏"):
# meaningless once the symbol is replaced by Latin letters.
_BIDI_MARKS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _code_for_symbol(amount: str, symbol: str, code: str) -> str:
    """``amount`` with the ISO code in place of ``symbol``; a no-break space
    between code and digits, as CLDR's currencySpacing asks for a symbol that
    ends (or starts) with a letter next to a digit (UTS #35 Part 3, "Currencies")."""
    text = _BIDI_MARKS.sub("", amount.replace(symbol, code))
    text = re.sub(rf"{code}(?=\d)", f"{code}\u00a0", text)
    return re.sub(rf"(?<=\d){code}", f"\u00a0{code}", text)


def format_timestamp(moment: datetime) -> str:
    """``2026-11-24 14:03:07 +01:00``: unambiguous on paper, whatever the locale."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text} {sign}{hours:02d}:{minutes:02d}"


def mask_for_copy(masked_pan: str, copy: Copy) -> str:
    """The PAN as this copy may show it, whatever the journal handed us.

    The merchant copy shows at most the first 6 and last 4 digits (SPEC §8,
    PCI DSS 3.4). The customer copy shows only the last 4: laws such as the
    US FACTA forbid more on a receipt handed to the cardholder. Any digit
    outside those is starred even if the input was not masked, so a full
    PAN that slipped into a record still never reaches paper.
    """
    chars = [c for c in masked_pan if not c.isspace()]
    keep_head = 6 if copy == "merchant" else 0
    head_end = min(keep_head, max(len(chars) - 4, 0))
    tail_start = max(len(chars) - 4, head_end)
    return "".join(
        c if (i < head_end or i >= tail_start or not c.isdigit()) else "*" for i, c in enumerate(chars)
    )


def _amount_label(type_: str) -> str:
    return {"refund": "Refund amount", "void": "Voided amount"}.get(type_, "Amount")


def _card_rows(tx: "Transaction", copy: Copy) -> tuple[Row, ...]:
    card = tx.card
    if card is None:
        return ()
    rows = [
        Row("Card", mask_for_copy(card.masked_pan, copy)),
        Row("Scheme", SCHEME_NAMES.get(card.scheme.lower(), card.scheme.upper())),
        Row("Entry", ENTRY_MODES.get(card.entry_mode, card.entry_mode.replace("_", " ").capitalize())),
    ]
    aid = card.aid or tx.emv_out.get("4F") or tx.emv_out.get("84")
    if aid:
        rows.append(Row("AID", aid))
    if card.application_label:
        rows.append(Row("Application", card.application_label))
    return tuple(rows)


def _cvm_text(tx: "Transaction") -> str | None:
    if tx.card is None:
        return None
    cvm = tx.card.cvm
    status = str(tx.status)
    # Only the issuer's approval proves an online PIN was right; a decline
    # (e.g. 55 incorrect PIN) must not claim it was verified.
    verified = status in _MONEY_TAKEN
    if cvm == "none":
        return "No CVM required"
    if cvm == "online_pin":
        return "PIN verified online" if verified else "PIN entered (online)"
    if cvm == "offline_pin":
        return "PIN verified by the card" if verified else "PIN entered (offline)"
    if cvm == "signature":
        return "Signature"
    return cvm.replace("_", " ").capitalize() if cvm else None


def _authorisation_rows(tx: "Transaction") -> tuple[Row, ...]:
    rows = []
    if tx.auth_code:
        rows.append(Row("Auth code", tx.auth_code))
    if tx.response_code:
        meaning = RESPONSE_MEANINGS.get(tx.response_code.upper())
        rows.append(Row("Response", f"{tx.response_code} {meaning}" if meaning else tx.response_code))
    # emv_out holds the card's final word (second GENERATE AC, mpos_cli.records);
    # journals written before it was kept there may still differ from card.tvr/tsi.
    tvr = tx.emv_out.get("95") or (tx.card.tvr if tx.card else None)
    tsi = tx.emv_out.get("9B") or (tx.card.tsi if tx.card else None)
    if tvr:
        rows.append(Row("TVR", tvr.upper()))
    if tsi:
        rows.append(Row("TSI", tsi.upper()))
    cryptogram = tx.emv_out.get("9F26")
    if cryptogram:
        rows.append(Row(_cryptogram_label(tx.emv_out.get("9F27")), cryptogram.upper()))
    return tuple(rows)


def _cryptogram_label(cid: str | None) -> str:
    try:
        kind = _CRYPTOGRAM_TYPES.get(int(cid or "", 16) & 0xC0)
    except ValueError:
        kind = None
    return kind or "Cryptogram"


def _statement(type_: str, status: str) -> str:
    if status == "offline":
        return "Accepted offline: sent to the bank when the connection is back."
    if status == "pending":
        return "Outcome not yet known: mpos recover settles it. Do not charge again."
    if status in ("declined", "failed", "cancelled"):
        if type_ == "sale":
            return "No money was taken."
        return "Nothing was returned to the card."
    if status == "voided":
        return "This payment was voided: the card is not charged."
    if status in ("refunded", "partially_refunded"):
        return "Refunded to the card: see the refund receipt."
    if type_ == "refund":
        return "The amount is returned to the card."
    if type_ == "void":
        return "The original payment is cancelled; the card is not charged."
    return "Please keep this receipt."


QR_FORMATS = {"epc": "SEPA transfer (EPC QR)", "emvco": "EMVCo QR"}


def _payment_rows(tx: "Transaction") -> tuple[Row, ...]:
    if tx.method != "qr" or not tx.qr:
        return ()
    rows = [Row("Paid by", QR_FORMATS.get(tx.qr.get("format", ""), "QR code")), Row("Reference", tx.qr["reference"])]
    if tx.qr.get("bank_reference"):
        rows.append(Row("Bank reference", tx.qr["bank_reference"]))
    if tx.qr.get("booking_date"):
        rows.append(Row("Booked", tx.qr["booking_date"]))
    if str(tx.status) == "pending" and tx.qr.get("expires_on"):
        rows.append(Row("Pay by", tx.qr["expires_on"]))
    return tuple(rows)


def _qr_statement(status: str) -> str:
    if status == "pending":
        return "Scan the code with a banking app to pay. Paid once the transfer reaches the bank account."
    if status == "approved":
        return "Paid by bank transfer. Please keep this receipt."
    if status == "cancelled":
        return "Not paid: this payment was cancelled."
    return _statement("sale", status)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]
