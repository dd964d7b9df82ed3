"""Host side: turn a reader's NEO 2 answers (status + TLV) into the reader
interface's results (CardResult, Completion) or the right error.

Shared by every reader that speaks NEO 2, simulated or real.
"""

from __future__ import annotations

from mpos_cli.drivers.base import CardResult, Completion, HostResponse, ReaderStatus
from mpos_cli.drivers.neo2 import codes
from mpos_cli.drivers.neo2.codes import ErrorCode, Status
from mpos_cli.drivers.errors import CardRemoved, ReaderErrorReason, ReaderProtocolError, ReaderRequestError, ReaderTimeout

# Card data that must never reach mpos in clear (SPEC §8): track 2 equivalent,
# PAN, cardholder name, PIN data, track 1/2 discretionary and track data.
FORBIDDEN_TAGS = frozenset({"57", "5A", "5F20", "99", "56", "9F1F", "9F20", "9F6B", "5F30"})


def _text(tags: dict[str, str], tag: str) -> str | None:
    value = tags.get(tag)
    return bytes.fromhex(value).decode("ascii", "replace") if value else None


def emv_tags(tags: dict[str, str]) -> dict[str, str]:
    """The EMV tags worth passing on: standard ones only, never card secrets."""
    return {
        tag: value
        for tag, value in tags.items()
        if tag not in FORBIDDEN_TAGS and not tag.startswith("DF") and not tag.startswith("FF")
    }


def activate_request(
    *, amount_minor: int, currency_numeric: str, transaction_date, transaction_type: str,
    country_numeric: str, scenario: str | None = None,
) -> dict[str, str]:
    """Activate Transaction TLVs (guide §Activate Transaction, our tags aside)."""
    if not 0 <= amount_minor <= 999_999_999_999:
        raise ReaderRequestError(f"amount {amount_minor} does not fit the reader's 12 digits")
    tags = {
        "9F02": f"{amount_minor:012d}",
        "9F03": "000000000000",
        "5F2A": currency_numeric.zfill(4),
        "9F1A": country_numeric.zfill(4),
        "9A": transaction_date.strftime("%y%m%d"),
        "9F21": transaction_date.strftime("%H%M%S"),
        "9C": transaction_type,
    }
    if scenario is not None:
        tags[codes.TAG_SIM_SCENARIO] = scenario.encode("ascii").hex().upper()
    return tags


def card_result(status: int, tags: dict[str, str], error_code: int | None = None) -> CardResult:
    """The answer to Activate Transaction, or the matching reader error."""
    if status == Status.TIMEOUT:
        raise ReaderTimeout("no card was presented before the reader timed out", reason="no_card",
                            hint="present the card and try again")
    if status == Status.FAILED and error_code in (ErrorCode.CARD_COMMUNICATION_ERROR, ErrorCode.CARD_DID_NOT_RESPOND):
        raise CardRemoved("the card was removed before the reader finished with it", reason="card_removed",
                          hint="leave the card on the reader (or in the slot) until it says done")
    if status == Status.INCORRECT_PARAMETER and codes.TAG_DECLINE_REASON in tags:
        raise ReaderRequestError(f"the reader refused the transaction: {_text(tags, codes.TAG_DECLINE_REASON)}")
    if status not in (Status.OK, Status.REQUEST_ONLINE_AUTHORIZATION):
        name = Status(status).name.lower() if status in Status._value2member_map_ else f"0x{status:02X}"
        detail = f", error 0x{error_code:02X}" if error_code is not None else ""
        raise ReaderProtocolError(f"the reader could not run the transaction (status {name}{detail})",
                                  reason=ReaderErrorReason.READER_STATUS, status=status)
    entry_mode = codes.ENTRY_MODES.get(tags.get(codes.TAG_POS_ENTRY_MODE, ""))
    cvm = codes.CVMS.get(tags.get(codes.TAG_TRANSACTION_CVM, ""))
    sealed = _text(tags, codes.TAG_SEALED_CARD_DATA)
    masked_pan = _text(tags, codes.TAG_MASKED_PAN)
    if not (entry_mode and cvm and sealed and masked_pan):
        raise ReaderProtocolError("the reader's answer lacks entry mode, CVM or card data", reason="incomplete_answer")
    if status == Status.OK and tags.get("9F27") != "00":
        raise ReaderProtocolError("the reader finished offline without a decline cryptogram", reason="incomplete_answer")
    expiry = tags.get("5F24")
    return CardResult(
        decision="declined" if status == Status.OK else "online",
        entry_mode=entry_mode,
        cvm=cvm,
        scheme=_text(tags, codes.TAG_SCHEME) or "unknown",
        masked_pan=masked_pan,
        expiry=expiry[:4] if expiry else None,
        emv=emv_tags(tags),
        encrypted_card_data=sealed,
        encrypted_pin_block=_text(tags, codes.TAG_SEALED_PIN_BLOCK),
    )


def continue_request(response: HostResponse) -> dict[str, str]:
    """Continue Transaction TLVs: the issuer's answer for the card."""
    tags: dict[str, str] = {}
    tags[codes.TAG_ONLINE_RESPONSE_CODE] = response.emv.get("8A") or response.response_code.encode("ascii").hex().upper()
    for tag in ("91", "71", "72"):
        if response.emv.get(tag):
            tags[tag] = response.emv[tag].upper()
    if response.unable_to_go_online:
        tags[codes.TAG_UNABLE_TO_GO_ONLINE] = "01"
    return tags


def completion(status: int, tags: dict[str, str]) -> Completion:
    """The card's final word (TC or AAC) from the Continue Transaction answer."""
    if status in (Status.OK, Status.FAILED):
        accepted = status == Status.OK
        reason = _text(tags, codes.TAG_DECLINE_REASON)
        return Completion(accepted=accepted, emv=emv_tags(tags), reason=None if accepted else reason or "aac")
    if status == Status.COMMAND_NOT_ALLOWED:
        raise ReaderProtocolError("the reader has no transaction waiting for the issuer's answer",
                                  reason="no_transaction")
    raise ReaderProtocolError(f"the reader could not complete the transaction (status 0x{status:02X})",
                              reason=ReaderErrorReason.READER_STATUS, status=status)


def reader_status(tags: dict[str, str], *, name: str, firmware: str | None, serial: str | None,
                  transport: str, address: str | None = None, rssi_dbm: int | None = None) -> ReaderStatus:
    battery = tags.get(codes.TAG_BATTERY_PERCENT)
    return ReaderStatus(
        connected=True, name=name, address=address, model=_text(tags, codes.TAG_MODEL), firmware=firmware,
        serial=serial, battery_percent=int(battery, 16) if battery else None, rssi_dbm=rssi_dbm, transport=transport,
    )
