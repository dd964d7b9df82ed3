"""QR payment codes: what a banking or wallet app reads off the screen.

Two published formats, and the reference that ties a credit on the bank
statement back to the sale:

- **EPC069-12** (European Payments Council, "Quick Response Code:
  Guidelines to Enable Data Capture for the Initiation of a SEPA Credit
  Transfer", version 2.1 of 9 February 2012 and later; "GiroCode"): version
  002, character set 1 (UTF-8), identification SCT. One element per line,
  separated by LF, trailing empty elements left out:

  ====  =====================================  ==============================
  line  element                                rule (EPC069-12 section 2)
  ====  =====================================  ==============================
  1     service tag ``BCD``
  2     version ``002``
  3     character set ``1`` (UTF-8)
  4     identification ``SCT``
  5     BIC of the beneficiary bank (AT-23)    8 or 11; optional in 002
  6     name of the beneficiary (AT-21)        1..70 characters
  7     IBAN of the beneficiary (AT-20)        max 34
  8     amount (AT-04)                         ``EUR`` + 0.01..999999999.99
  9     purpose (AT-44)                        4 characters
  10    structured remittance (AT-05)          ISO 11649 reference, max 35
  11    unstructured remittance (AT-05)        max 140; never with line 10
  12    beneficiary to originator information  max 70
  ====  =====================================  ==============================

  QR error correction level M, at most version 13 (331 bytes).

- **EMVCo merchant-presented mode** ("EMV QR Code Specification for
  Payment Systems: Merchant-Presented Mode", v1.0/v1.1): data objects
  ``ID`` (2 digits) + length (2 digits, in characters) + value. Root
  objects used here: 00 payload format indicator ``01``; 01 point of
  initiation ``12`` (dynamic: one code per payment); 02-51 merchant account
  information (``qr.emvco_account``, taken as configured; 26-51 are
  templates whose sub-object 00 is a globally unique identifier); 52
  merchant category code (ISO 18245, 4 digits); 53 transaction currency
  (ISO 4217 numeric); 54 transaction amount (max 13 characters); 58
  country code (ISO 3166-1 alpha-2); 59 merchant name (max 25); 60 merchant
  city (max 15); 62 additional data field template, sub-object 01 bill
  number (max 25): the creditor reference; 63 CRC: CRC-16/CCITT-FALSE
  (polynomial 0x1021, initial value 0xFFFF) over the whole payload up to
  and including ``6304``, as four upper-case hex digits.

- **ISO 11649 creditor reference** (``RF`` + two check digits + up to 21
  alphanumerics; check digits by ISO 7064 MOD 97-10 over the reference
  with ``RF00`` moved to its end). mpos makes each payment's reference
  from its transaction id, so a reference found on a statement names the
  payment without a search.

Everything here is pure: no journal, no config, no output.
"""

from __future__ import annotations

import re
from binascii import crc_hqx
from dataclasses import dataclass

from mpos_cli.errors import UsageError

FORMATS = ("epc", "emvco")

# EPC069-12 section 2: error level M, at most version 13, i.e. 331 bytes.
EPC_MAX_BYTES = 331
EPC_MAX_MINOR = 99_999_999_999  # EUR 999,999,999.99
EPC_NAME_MAX = 70
EPC_TEXT_MAX = 140
EPC_INFO_MAX = 70
EPC_REFERENCE_MAX = 35

EMVCO_MAX_LENGTH = 512  # EMVCo MPM 4.1: a payload holds at most 512 characters
EMVCO_NAME_MAX = 25
EMVCO_CITY_MAX = 15
EMVCO_BILL_NUMBER_MAX = 25
EMVCO_AMOUNT_MAX = 13

_WORD = re.compile(r"[0-9A-Z]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_EMVCO_TEXT = re.compile(r"[\x20-\x7e]+")  # EMVCo "ans": the printable ASCII characters


# -- ISO 11649 creditor references -----------------------------------------------


def creditor_reference(body: str) -> str:
    """``RF`` + ISO 7064 MOD 97-10 check digits + ``body`` (1..21 of [0-9A-Z])."""
    from stdnum.iso7064 import mod_97_10

    body = body.upper()
    if not re.fullmatch(r"[0-9A-Z]{1,21}", body):
        raise ValueError(f"an ISO 11649 reference body is 1 to 21 letters and digits, not {body!r}")
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def is_creditor_reference(text: str) -> bool:
    """A well-formed ISO 11649 reference whose check digits are right."""
    from stdnum import iso11649

    compact = "".join(text.split()).upper()
    return bool(re.fullmatch(r"RF[0-9]{2}[0-9A-Z]{1,21}", compact)) and iso11649.is_valid(compact)


def find_creditor_references(text: str) -> list[str]:
    """Every ISO 11649 reference that free text (an unstructured remittance
    line, an MT940 :86: field) may hold, compact and with good check digits.

    A reference is often printed in groups of four ("RF18 5390 0754 7034"),
    so where it ends is not written down: each run of words that starts with
    ``RFnn`` is tried at every word boundary up to 25 characters, and each
    run whose check digits hold is returned, shortest first. A run that
    happens to pass (1 in 97) names no payment and is reported at worst;
    the matcher takes the one that names a payment."""
    words = _WORD.findall((text or "").upper())
    found: list[str] = []
    for start, word in enumerate(words):
        if not re.fullmatch(r"RF[0-9]{2}[0-9A-Z]*", word):
            continue
        candidate = ""
        for part in words[start:]:
            candidate += part
            if len(candidate) > 25:
                break
            if len(candidate) > 4 and is_creditor_reference(candidate) and candidate not in found:
                found.append(candidate)
    return found


def reference_for_transaction(tx_id: str) -> str:
    """``20261124-K3Q9FX`` → ``RFnn20261124K3Q9FX``: unique as the id is."""
    return creditor_reference(tx_id.replace("-", ""))


def transaction_id_of_reference(reference: str) -> str | None:
    """The transaction id an mpos reference was made from, or None."""
    compact = "".join(reference.split()).upper()
    body = compact[4:]
    if not is_creditor_reference(compact) or not re.fullmatch(r"[0-9]{8}[0-9A-Z]{6}", body):
        return None
    return f"{body[:8]}-{body[8:]}"


# -- bank identifiers (schwifty) -----------------------------------------------


def validate_iban(value: str) -> str:
    """The IBAN in compact form, checked against its country's rules by schwifty."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return IBAN(value).compact
    except SchwiftyException as exc:
        raise ValueError(f"not a valid IBAN: {value!r} ({exc})") from None


def validate_bic(value: str) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    try:
        return str(BIC("".join(str(value).split()).upper(), allow_invalid=False))
    except SchwiftyException as exc:
        raise ValueError(f"not a valid BIC: {value!r} ({exc})") from None


# -- EPC069-12 -------------------------------------------------------------------


def _epc_amount(minor: int) -> str:
    """``EUR12.3``: the EPC069-12 examples write the amount without trailing zeros."""
    units, cents = divmod(minor, 100)
    return f"EUR{units}" + (f".{cents:02d}".rstrip("0") if cents else "")


def _at_most(label: str, value: str, limit: int, standard: str) -> str:
    """``value``, refused when longer than ``standard`` allows."""
    if len(value) > limit:
        raise UsageError(f"the {label} is {len(value)} characters; {standard} allows at most {limit}")
    return value


def _one_line(label: str, value: str | None, limit: int) -> str:
    value = (value or "").strip()
    if _CONTROL.search(value):
        raise UsageError(f"the {label} holds a line break or control character, which EPC069-12 does not allow")
    return _at_most(label, value, limit, "EPC069-12")


def epc_payload(
    *,
    name: str,
    iban: str,
    amount_minor: int,
    currency: str = "EUR",
    bic: str | None = None,
    reference: str | None = None,
    text: str | None = None,
    purpose: str | None = None,
    information: str | None = None,
) -> str:
    """An EPC069-12 version 002 payload in UTF-8 (see the module docstring).

    Refuses what the guidelines do not allow (exit 2): another currency than
    EUR, an amount outside 0.01..999999999.99, a name of 0 or more than 70
    characters, a structured reference that is not ISO 11649 together with
    a text, and a payload longer than 331 bytes.
    """
    if currency != "EUR":
        raise UsageError(
            f"an EPC QR code (SEPA credit transfer) is in EUR only, not {currency}",
            hint="charge in EUR, or set qr.format emvco",
        )
    if not 1 <= amount_minor <= EPC_MAX_MINOR:
        raise UsageError("an EPC QR code takes an amount from 0.01 to 999999999.99 EUR")
    name = _one_line("beneficiary name (qr.name)", name, EPC_NAME_MAX)
    if not name:
        raise UsageError("the beneficiary name is empty", hint="mpos config set qr.name 'Your business'")
    try:
        iban = validate_iban(iban)
    except ValueError as exc:
        raise UsageError(str(exc), hint="mpos config set qr.iban YOUR-IBAN") from None
    if bic:
        try:
            bic = validate_bic(bic)
        except ValueError as exc:
            raise UsageError(str(exc), hint="mpos config set qr.bic YOUR-BIC (or unset it)") from None
    if purpose and not re.fullmatch(r"[A-Z0-9]{4}", purpose):
        raise UsageError(f"an EPC purpose code is 4 letters or digits, not {purpose!r}")
    reference = _one_line("creditor reference", reference, EPC_REFERENCE_MAX)
    text = _one_line("remittance text", text, EPC_TEXT_MAX)
    if reference and text:
        raise UsageError("EPC069-12 takes a structured reference or a text, not both")
    if reference and reference.startswith("RF") and not is_creditor_reference(reference):
        raise UsageError(f"{reference!r} is not an ISO 11649 creditor reference (check digits)")
    information = _one_line("information", information, EPC_INFO_MAX)
    elements = [
        "BCD", "002", "1", "SCT", bic or "", name, iban, _epc_amount(amount_minor),
        purpose or "", reference, text, information,
    ]
    while elements and not elements[-1]:
        elements.pop()
    payload = "\n".join(elements)
    size = len(payload.encode("utf-8"))
    if size > EPC_MAX_BYTES:
        raise UsageError(f"the EPC payload is {size} bytes; EPC069-12 allows at most {EPC_MAX_BYTES}")
    return payload


# -- EMVCo merchant-presented mode -----------------------------------------------


def emvco_crc(data: str) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final
    XOR) of ``data``'s UTF-8 bytes, as EMVCo MPM ID 63 writes it."""
    return f"{crc_hqx(data.encode('utf-8'), 0xFFFF):04X}"


def tlv(object_id: str, value: str) -> str:
    if not re.fullmatch(r"[0-9]{2}", object_id):
        raise ValueError(f"an EMVCo data object id is two digits, not {object_id!r}")
    if not 1 <= len(value) <= 99:
        raise UsageError(f"EMVCo data object {object_id} must hold 1 to 99 characters, not {len(value)}")
    return f"{object_id}{len(value):02d}{value}"


def parse_tlv(data: str, *, where: str = "payload") -> list[tuple[str, str]]:
    """``[(id, value), …]`` of an EMVCo data object string; a malformed one is a UsageError."""
    objects = []
    position = 0
    while position < len(data):
        head = data[position:position + 4]
        if not re.fullmatch(r"[0-9]{4}", head):
            raise UsageError(f"malformed EMVCo {where} at character {position + 1}: expected ID and length, found {head!r}")
        length = int(head[2:])
        value = data[position + 4:position + 4 + length]
        if length == 0 or len(value) != length:
            raise UsageError(f"malformed EMVCo {where}: data object {head[:2]} at character {position + 1} is cut short")
        objects.append((head[:2], value))
        position += 4 + length
    return objects


def validate_emvco_account(value: str) -> str:
    """``qr.emvco_account``: one or more merchant account information data
    objects exactly as they go into the payload (IDs 02-51, e.g.
    ``26…0012com.example…``); IDs 26-51 are templates that must carry
    sub-object 00, a globally unique identifier of at most 32 characters."""
    value = str(value).strip()
    if not value:
        return value
    if not _EMVCO_TEXT.fullmatch(value):
        raise ValueError("must be printable ASCII characters (EMVCo 'ans')")
    try:
        objects = parse_tlv(value, where="merchant account information")
    except UsageError as exc:
        raise ValueError(exc.message) from None
    for object_id, inner in objects:
        if not 2 <= int(object_id) <= 51:
            raise ValueError(f"data object {object_id} is not merchant account information (IDs 02 to 51)")
        if int(object_id) >= 26:
            try:
                sub = dict(parse_tlv(inner, where=f"template {object_id}"))
            except UsageError as exc:
                raise ValueError(exc.message) from None
            if not 1 <= len(sub.get("00", "")) <= 32:
                raise ValueError(f"template {object_id} needs sub-object 00, a globally unique identifier of 1 to 32 characters")
    return value


def _ans(label: str, value: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise UsageError(f"the {label} is empty", hint="EMVCo QR codes need it; see man 5 mpos.toml")
    if not _EMVCO_TEXT.fullmatch(value):
        raise UsageError(f"the {label} {value!r} has characters EMVCo does not allow there (printable ASCII only)")
    return _at_most(label, value, limit, "EMVCo")


def emvco_payload(
    *,
    account: str,
    mcc: str,
    currency_numeric: str,
    amount: str,
    country: str,
    name: str,
    city: str,
    reference: str,
) -> str:
    """A dynamic EMVCo merchant-presented payload (see the module docstring).

    ``amount`` is the exact decimal string of the currency (``23.72``,
    ``1500`` for JPY), as ID 54 writes it."""
    if not account:
        raise UsageError(
            "no merchant account information for EMVCo QR codes",
            hint="mpos config set qr.emvco_account ID-LENGTH-VALUE (from your QR payment provider)",
        )
    try:
        account = validate_emvco_account(account)
    except ValueError as exc:
        raise UsageError(f"qr.emvco_account: {exc}") from None
    if not re.fullmatch(r"[0-9]{4}", mcc or ""):
        raise UsageError(f"the merchant category code must be four digits (ISO 18245), not {mcc!r}")
    if not re.fullmatch(r"[0-9]{3}", currency_numeric):
        raise UsageError(f"not an ISO 4217 numeric currency code: {currency_numeric!r}")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", amount) or len(amount) > EMVCO_AMOUNT_MAX:
        raise UsageError(f"EMVCo amounts are at most {EMVCO_AMOUNT_MAX} characters, digits and '.': {amount!r}")
    if not re.fullmatch(r"[A-Z]{2}", country or ""):
        raise UsageError(f"the country code must be ISO 3166-1 alpha-2 (two letters), not {country!r}",
                         hint="mpos config set qr.country SG")
    name = _ans("merchant name (qr.name)", name, EMVCO_NAME_MAX)
    city = _ans("merchant city (qr.city)", city, EMVCO_CITY_MAX)
    reference = _ans("bill number", reference, EMVCO_BILL_NUMBER_MAX)
    body = (
        tlv("00", "01")
        + tlv("01", "12")
        + account
        + tlv("52", mcc)
        + tlv("53", currency_numeric)
        + tlv("54", amount)
        + tlv("58", country)
        + tlv("59", name)
        + tlv("60", city)
        + tlv("62", tlv("01", reference))
        + "6304"
    )
    payload = body + emvco_crc(body)
    if len(payload) > EMVCO_MAX_LENGTH:
        raise UsageError(f"the EMVCo payload is {len(payload)} characters; at most {EMVCO_MAX_LENGTH}")
    return payload


def emvco_crc_ok(payload: str) -> bool:
    """Does the payload end with ``6304`` and the CRC of everything before it?"""
    return len(payload) > 8 and payload[-8:-4] == "6304" and emvco_crc(payload[:-4]) == payload[-4:].upper()


# -- drawing the code ------------------------------------------------------------


@dataclass(frozen=True)
class Drawing:
    """How a payload is drawn: EPC069-12 wants level M and UTF-8 bytes exactly."""

    payload: str

    def code(self):
        import segno

        # boost_error=False: EPC069-12 names level M; encoding utf-8: the
        # payload says character set 1, so the bytes must be UTF-8 (segno
        # would otherwise pick ISO 8859-1 for "Müller").
        return segno.make(self.payload, error="m", boost_error=False, micro=False, encoding="utf-8")

    def terminal_text(self, border: int = 4) -> str:
        """Unicode half blocks, two modules per character cell: light modules
        are drawn, dark ones are the (dark) terminal background."""
        import io

        out = io.StringIO()
        self.code().terminal(out=out, compact=True, border=border)
        return out.getvalue()

    def png(self, scale: int = 6, border: int = 4) -> bytes:
        import io

        out = io.BytesIO()
        self.code().save(out, kind="png", scale=scale, border=border)
        return out.getvalue()

    def svg(self, scale: int = 4, border: int = 4) -> str:
        import io

        out = io.BytesIO()
        self.code().save(out, kind="svg", scale=scale, border=border, xmldecl=False, svgns=True, nl=False)
        return out.getvalue().decode("utf-8")
