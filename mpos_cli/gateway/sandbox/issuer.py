"""The sandbox issuer: what it answers to one authorisation, and why.

Checks run in this order and the first that fails decides:

1. the reader's encrypted card data decrypts under the sandbox BDK
   (``p2pe.card_data``; ``30`` format error otherwise) and is one of the
   issuer's test cards (``14`` invalid card number otherwise);
2. the card is not expired on the capture date (``54``);
3. chip and contactless: the cryptogram inputs are present (``30``), the
   amount the card signed (9F02) is the amount asked for (``13``), and the
   ARQC (9F26) recomputed from the issuer keys matches (``88``, cryptographic
   failure); swipes carry no cryptogram and skip this;
4. online PIN: the encrypted PIN block (ISO 9564 under the DUKPT PIN key)
   opens and holds the sandbox PIN (``55``);
5. the outcome table of SPEC §7 by the last two digits of the total in minor
   units (amount + tip): 05, 51, 54, 55, 91 decline with that code; 98
   approves and marks the answer to be held; anything else approves.

"The last two digits of the minor units" is the cents for two-decimal
currencies, the last two yen of a JPY total and the last two fils of a KWD
total, so every currency can reach every outcome.

Nothing here keeps a PAN: the caller gets the masked PAN and the scheme only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from mpos_cli.drivers.sim import test_material
from mpos_cli.gateway.sandbox import p2pe

# ISO 8583 response codes the sandbox answers with.
APPROVED = "00"
DO_NOT_HONOUR = "05"
INVALID_TRANSACTION = "12"
INVALID_AMOUNT = "13"
INVALID_CARD_NUMBER = "14"
UNABLE_TO_LOCATE = "25"
FORMAT_ERROR = "30"
INSUFFICIENT_FUNDS = "51"
EXPIRED_CARD = "54"
INCORRECT_PIN = "55"
CRYPTOGRAPHIC_FAILURE = "88"
ISSUER_UNAVAILABLE = "91"

MEANINGS = {
    APPROVED: "approved",
    DO_NOT_HONOUR: "do not honour",
    INVALID_TRANSACTION: "invalid transaction",
    INVALID_AMOUNT: "invalid amount",
    INVALID_CARD_NUMBER: "invalid card number",
    UNABLE_TO_LOCATE: "unable to locate the original transaction",
    FORMAT_ERROR: "format error",
    INSUFFICIENT_FUNDS: "insufficient funds",
    EXPIRED_CARD: "expired card",
    INCORRECT_PIN: "incorrect PIN",
    CRYPTOGRAPHIC_FAILURE: "cryptogram (ARQC) verification failed",
    ISSUER_UNAVAILABLE: "issuer unavailable",
}

# SPEC §7: the last two digits of the total pick the outcome.
OUTCOME_BY_CENTS = {5: DO_NOT_HONOUR, 51: INSUFFICIENT_FUNDS, 54: EXPIRED_CARD, 55: INCORRECT_PIN, 91: ISSUER_UNAVAILABLE}
HOLD_CENTS = 98

CHIP_ENTRY_MODES = ("chip", "contactless")
AUTH_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # no I/O: read aloud over a phone


@dataclass(frozen=True)
class Decision:
    response_code: str
    message: str
    masked_pan: str | None
    scheme: str | None
    auth_code: str | None = None
    emv: dict[str, str] = field(default_factory=dict)  # 8A and, after a verified ARQC, 91
    hold: bool = False  # total ends in 98: answer after the hold

    @property
    def approved(self) -> bool:
        return self.response_code == APPROVED


def new_auth_code() -> str:
    return "".join(secrets.choice(AUTH_CODE_ALPHABET) for _ in range(6))


def cents_of(total_minor: int) -> int:
    return total_minor % 100


def _expired(expiry_yymm: str, on: date) -> bool:
    year, month = 2000 + int(expiry_yymm[:2]), int(expiry_yymm[2:4])
    return (on.year, on.month) > (year, month)


def _bcd_amount(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def response_tag_8a(code: str) -> str:
    return code.encode("ascii").hex().upper()


def decide(
    *,
    total_minor: int,
    entry_mode: str,
    cvm: str,
    encrypted_card_data: str,
    encrypted_pin_block: str | None,
    emv: dict[str, str],
    deferred: bool,
    captured_on: date,
) -> Decision:
    """The issuer's answer to one authorisation (see the module docstring)."""
    chip = entry_mode in CHIP_ENTRY_MODES

    def answer(code: str, *, card=None, arpc_inputs=None, message: str | None = None) -> Decision:
        response_emv: dict[str, str] = {}
        if chip:
            response_emv["8A"] = response_tag_8a(code)
        if arpc_inputs is not None and not deferred:
            # The card checks the ARPC in its second GENERATE AC; a deferred
            # authorisation has no card left to answer, so none is made.
            pan, psn, cvn, arqc, atc = arpc_inputs
            response_emv["91"] = test_material.issuer_authentication_data(pan, psn, cvn, arqc, atc, code)
        return Decision(
            response_code=code,
            message=message or MEANINGS[code],
            masked_pan=test_material.mask_pan(card["pan"]) if card else None,
            scheme=card.get("scheme") if card else None,
            auth_code=new_auth_code() if code == APPROVED else None,
            emv=response_emv,
            hold=cents_of(total_minor) == HOLD_CENTS,
        )

    try:
        read = p2pe.card_data(encrypted_card_data)
    except Exception:  # any failure to decrypt or read the objects is the same answer
        return answer(FORMAT_ERROR, message="the card data could not be decrypted (not encrypted for this acquirer)")
    test_card = next((c for c in test_material.TEST_CARDS.values() if c.pan == read.pan), None)
    if test_card is None:
        return answer(INVALID_CARD_NUMBER)
    # The issuer's own record of its card: PAN sequence number and cryptogram version.
    pan, psn, cvn = test_card.pan, emv.get("5F34") or test_card.psn, test_card.cvn
    expiry = read.expiry or test_card.expiry
    card = {"pan": pan, "scheme": test_card.scheme}

    if _expired(expiry, captured_on):
        return answer(EXPIRED_CARD, card=card)

    arpc_inputs = None
    if chip:
        tags = {tag.upper(): str(value).upper() for tag, value in emv.items()}
        missing = [tag for tag in (*test_material.ARQC_TAGS, "9F26") if not tags.get(tag)]
        if missing:
            return answer(FORMAT_ERROR, card=card, message=f"EMV data lacks {', '.join(missing)}")
        if _bcd_amount(tags["9F02"]) != total_minor:
            return answer(INVALID_AMOUNT, card=card, message="the amount the card signed (9F02) is not the amount asked for")
        try:
            expected = test_material.application_cryptogram(pan, psn, cvn, tags)
        except Exception:  # unreadable hex or an unknown cryptogram version
            return answer(FORMAT_ERROR, card=card, message="the cryptogram inputs could not be read")
        if not secrets.compare_digest(expected, tags["9F26"]):
            return answer(CRYPTOGRAPHIC_FAILURE, card=card)
        arpc_inputs = (pan, psn, cvn, tags["9F26"], tags["9F36"])

    if cvm == "online_pin" or encrypted_pin_block:
        try:
            pin = p2pe.pin(encrypted_pin_block or "", pan)
        except Exception:
            pin = None
        if not isinstance(pin, str) or not secrets.compare_digest(pin, test_material.SANDBOX_PIN):
            return answer(INCORRECT_PIN, card=card, arpc_inputs=arpc_inputs)

    code = OUTCOME_BY_CENTS.get(cents_of(total_minor), APPROVED)
    return answer(code, card=card, arpc_inputs=arpc_inputs)
