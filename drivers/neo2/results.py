"""Host side: NEO 2 answers (status + data) to the reader interface's
results (CardResult, Completion), or the right error.

Card data arrives as the guide's masked and encrypted objects: the masked
copies give the masked PAN for display, the encrypted copies (with the KSN
from DFEE12) travel to the acquirer untouched, as the reader's own TLV
bytes in hex. A plain 57/5A/56/track object means the reader's encryption
is off: mpos refuses it rather than hold a clear PAN (SPEC §8).
"""

from __future__ import annotations

from mpos_cli.drivers.base import CardResult, Completion, HostResponse, ReaderStatus
from mpos_cli.drivers.neo2 import codes, msr, tlv
from mpos_cli.drivers.neo2.codes import ContactResult, ErrorCode, Status
from mpos_cli.drivers.errors import CardRemoved, ReaderErrorReason, ReaderProtocolError, ReaderRequestError, ReaderTimeout

# Tags never passed on as EMV data: the sensitive ones, ID TECH's and mpos's
# proprietary ones (DFxxxx, FFxxxx) and the PIN block.
def emv_tags(tags: dict[str, str]) -> dict[str, str]:
    """The EMV tags worth passing on: standard ones only, never card secrets."""
    return {
        tag: value
        for tag, value in tags.items()
        if tag not in codes.SENSITIVE_TAGS and not tag.startswith(("DF", "FF"))
    }


def transaction_tags(*, amount_minor: int, currency_numeric: str, transaction_type: str,
                     country_numeric: str, scenario: str | None = None) -> dict[str, str]:
    """Transaction TLVs for 02-40 and 60-10 (guide §8.5.1 and §8.4.18's
    "Transaction Data List"). No 9A/9F21: the guide deprecates them ("do not
    attempt to use this tag in SRED devices"); the reader's clock dates the
    transaction."""
    if not 0 <= amount_minor <= 999_999_999_999:
        raise ReaderRequestError(f"amount {amount_minor} does not fit the reader's 12 digits")
    tags = {
        "9F02": f"{amount_minor:012d}",
        "9F03": "000000000000",
        "9C": transaction_type,
        "5F2A": currency_numeric.zfill(4),
        "9F1A": country_numeric.zfill(4),
    }
    if scenario is not None:  # extension: the simulator's customer, never sent to a real reader
        tags[codes.TAG_SIM_SCENARIO] = scenario.encode("ascii").hex().upper()
    return tags


def parse(data: bytes) -> tlv.Decoded:
    try:
        return tlv.parse(data) if data else tlv.Decoded({}, {}, {})
    except tlv.TlvError as exc:
        raise ReaderProtocolError(f"the reader's answer is not valid TLV ({exc})", reason="bad_tlv") from exc


def _refuse_clear_card_data(decoded: tlv.Decoded) -> None:
    clear = sorted(codes.SENSITIVE_TAGS & decoded.plain.keys())
    if clear:
        raise ReaderProtocolError(
            f"the reader sent card data in clear (tag {', '.join(clear)}); mpos takes only encrypted card data",
            reason="clear_card_data",
            hint="turn on the reader's data encryption (a DUKPT data key must be loaded); see mpos-reader-protocol(7)",
        )


# -- masked PAN -------------------------------------------------------------------


def _digits(masked_value: str, tag: str) -> str:
    """The masked PAN digits, with * for masked ones, from a masked object."""
    if tag == codes.TAG_TRACK2_DATA:  # ASCII "5413330000001513=1207..." with * masking
        text = bytes.fromhex(masked_value).decode("ascii", "replace").lstrip(";")
        return text.split("=", 1)[0]
    nibbles = masked_value.upper()
    if tag == "57":
        nibbles = nibbles.split("D", 1)[0]
    nibbles = nibbles.rstrip("F")
    return "".join("*" if n in "ABCE" else n for n in nibbles)


def masked_pan(decoded: tlv.Decoded) -> str | None:
    for tag in ("5A", "57", codes.TAG_TRACK2_DATA):
        if tag in decoded.masked:
            digits = _digits(decoded.masked[tag], tag)
            if len(digits) >= 12 and digits[-4:].isdigit():
                return digits
    return None


def _scheme(tags: dict[str, str], pan: str | None) -> str:
    aid = tags.get("4F") or tags.get("84") or tags.get("9F06") or ""
    if aid[:10] in codes.SCHEMES_BY_RID:
        return codes.SCHEMES_BY_RID[aid[:10]]
    first = (pan or " ")[0]
    return {"4": "visa", "5": "mastercard", "2": "mastercard", "3": "amex"}.get(first, "unknown")


def _sealed(decoded: tlv.Decoded, ksn_tag: str, tags: tuple[str, ...]) -> str | None:
    """The encrypted objects with their KSN, as the reader's TLV bytes (hex)."""
    ksn = decoded.plain.get(ksn_tag)
    objects = [tlv.TlvObject(tag, bytes.fromhex(decoded.encrypted[tag]), tlv.ENCRYPTED)
               for tag in tags if tag in decoded.encrypted]
    if not ksn or not objects:
        return None
    return tlv.encode_objects([tlv.TlvObject(ksn_tag, bytes.fromhex(ksn)), *objects]).hex().upper()


def encrypted_card_data(decoded: tlv.Decoded) -> str | None:
    return _sealed(decoded, codes.TAG_KSN, tuple(decoded.encrypted))


def swiped_block(decoded: tlv.Decoded) -> msr.MsrBlock | None:
    """The Enhanced Encrypted MSR block in DFEE23 (a swipe), if any: only
    taken with track 2 encrypted under a DUKPT KSN (SPEC §8)."""
    value = decoded.plain.get(codes.TAG_MSR_DATA)
    if value is None:
        return None
    try:
        block = msr.parse(bytes.fromhex(value))
    except msr.MsrBlockError as exc:
        raise ReaderProtocolError(f"the reader's swipe data (DFEE23) is unreadable: {exc}",
                                  reason="bad_tlv")  # the DFEE23 value is malformed from exc
    if not (block.encrypted[1] and block.ksn):
        raise ReaderProtocolError(
            "the reader sent the swiped track in clear (DFEE23 without encrypted track 2 and KSN); "
            "mpos takes only encrypted card data", reason="clear_card_data",
            hint="turn on the reader's MSR encryption (a DUKPT data key must be loaded); see mpos-reader-protocol(7)")
    return block


def encrypted_pin_block(decoded: tlv.Decoded) -> str | None:
    block = decoded.plain.get(codes.TAG_PIN_BLOCK)
    ksn = decoded.plain.get(codes.TAG_PIN_KSN)
    if not (block and ksn):
        return None
    return tlv.encode({codes.TAG_PIN_BLOCK: block, codes.TAG_PIN_KSN: ksn}).hex().upper()


def card_result(decoded: tlv.Decoded, *, decision: str, entry_mode: str | None = None) -> CardResult:
    """A CardResult from the merged plain/masked/encrypted objects of a card read."""
    pin_block = encrypted_pin_block(decoded)
    swiped = swiped_block(decoded)
    plain = {tag: value for tag, value in decoded.plain.items() if tag not in (codes.TAG_PIN_BLOCK, codes.TAG_MSR_DATA)}
    _refuse_clear_card_data(tlv.Decoded(plain, {}, {}))
    entry_mode = codes.ENTRY_MODES.get(plain.get(codes.TAG_POS_ENTRY_MODE, ""), entry_mode)
    cvm = codes.CVMS.get(plain.get(codes.TAG_TRANSACTION_CVM, ""))
    if cvm is None:  # contact: CVM Results (9F34) byte 1, method in bits 6-1 (EMV Book 3 Annex C3)
        method = int(plain.get("9F34", "3F")[:2], 16) & 0x3F
        cvm = {0x02: "online_pin", 0x1E: "signature", 0x1F: "none"}.get(method, "none")
    if pin_block:
        cvm = "online_pin"
    pan = masked_pan(decoded)
    sealed = encrypted_card_data(decoded)
    if swiped is not None:  # the block travels whole: its KSN is inside it
        pan = pan or msr.masked_pan(swiped)
        sealed = sealed or tlv.TlvObject(codes.TAG_MSR_DATA, bytes.fromhex(decoded.plain[codes.TAG_MSR_DATA])
                                         ).encode().hex().upper()
    if not (entry_mode and pan and sealed):
        missing = [name for name, value in (("entry mode", entry_mode), ("masked PAN", pan),
                                            ("encrypted card data with its KSN", sealed)) if not value]
        raise ReaderProtocolError(f"the reader's answer lacks {', '.join(missing)}", reason="incomplete_answer")
    if cvm == "online_pin" and not pin_block:
        raise ReaderProtocolError("the reader asked for an online PIN but sent no PIN block", reason="incomplete_answer")
    expiry = plain.get("5F24")
    return CardResult(
        decision=decision,
        entry_mode=entry_mode,
        cvm=cvm,
        scheme=_scheme(plain, pan),
        masked_pan=pan,
        expiry=expiry[:4] if expiry else None,
        emv=emv_tags(plain),
        encrypted_card_data=sealed,
        encrypted_pin_block=pin_block,
    )


# -- contactless: Activate Transaction 02-40 ---------------------------------------------


def contactless_result(status: int, data: bytes) -> CardResult:
    """The 02-40 answer (guide §8.5.3, p. 232-233): Attribution byte, then TLVs."""
    if status == Status.TIMEOUT:
        raise ReaderTimeout("no card was presented before the reader timed out", reason="no_card",
                            hint="present the card and try again")
    body = data[1:] if data else b""  # byte 0: Attribution
    decoded = parse(body)
    if status == Status.FAILED:
        table = decoded.plain.get(codes.TAG_ERROR_TABLE, "")
        error = int(table[:2], 16) if table else None
        if error in (ErrorCode.CARD_COMMUNICATION_ERROR, ErrorCode.CARD_DID_NOT_RESPOND):
            raise CardRemoved("the card was removed before the reader finished with it", reason="card_removed",
                              hint="leave the card on the reader until it says done")
        name = ErrorCode(error).name.lower() if error in ErrorCode._value2member_map_ else (
            f"0x{error:02X}" if error is not None else "unknown")
        raise ReaderProtocolError(f"the reader could not read the card (error {name})",
                                  reason=ReaderErrorReason.READER_STATUS, status=error)
    if status not in (Status.OK, Status.REQUEST_ONLINE_AUTHORIZATION):
        raise _status_error(status, "run the transaction")
    cid = decoded.plain.get("9F27", "")
    if status == Status.OK and cid[:2] != "00":
        # A contactless card that approves offline (TC) cannot happen here:
        # mpos runs every payment online (zero floor limit).
        raise ReaderProtocolError("the reader finished offline without a decline cryptogram", reason="incomplete_answer")
    decision = "declined" if status == Status.OK else "online"
    return card_result(decoded, decision=decision, entry_mode="contactless")


# -- contact: 60-10, 60-11, 60-12 ---------------------------------------------------


def contact_answer(command: str, status: int, data: bytes) -> tuple[int, tlv.Decoded]:
    """A 60-1x final answer: TLVs, the 2-byte result code in DFEE25 (as
    ID TECH's test scripts read it), the rest the transaction's objects."""
    if status == Status.TIMEOUT:
        raise ReaderTimeout("no card was inserted before the reader timed out", reason="no_card",
                            hint="insert the card and try again")
    if status != Status.OK:
        raise _status_error(status, command)
    decoded = parse(data)
    code = decoded.plain.pop(codes.TAG_CONTACT_RESULT, None)
    if code is None or len(code) != 4:
        raise ReaderProtocolError(f"the reader's answer to {command} has no result code (DFEE25)",
                                  reason="incomplete_answer")
    return int(code, 16), decoded


def start_request(*, fallback: bool, card_wait_s: int, authenticate_wait_s: int, tags: dict[str, str]) -> bytes:
    """60-10 data (guide §8.4.18): <FallBack><TimeOut1 (2)><TimeOut2 (2)><App Data TLVs>."""
    return (bytes((1 if fallback else 0,)) + card_wait_s.to_bytes(2, "big")
            + authenticate_wait_s.to_bytes(2, "big") + tlv.encode(tags))


def apply_host_response_request(response: HostResponse) -> bytes:
    """60-12 data: <host reached (1 byte)>, then 8A and, when the issuer sent them, 91, 71, 72."""
    tags = {codes.TAG_ONLINE_RESPONSE_CODE: response.emv.get("8A") or response.response_code.encode("ascii").hex().upper()}
    for tag in ("91", "71", "72"):
        if response.emv.get(tag):
            tags[tag] = response.emv[tag].upper()
    return bytes((0 if response.unable_to_go_online else 1,)) + tlv.encode(tags)


def contact_completion(status: int, data: bytes, response: HostResponse) -> Completion:
    """The card's final word after 60-12: 0002 approved (TC) or 0003 declined (AAC)."""
    if status == Status.COMMAND_NOT_ALLOWED:
        raise ReaderProtocolError("the reader has no transaction waiting for the issuer's answer",
                                  reason="no_transaction")
    code, decoded = contact_answer("complete the transaction", status, data)
    accepted = code in (ContactResult.APPROVED, ContactResult.APPROVED_OFFLINE)
    if not accepted and code not in (ContactResult.DECLINED, ContactResult.DECLINED_OFFLINE):
        raise ReaderProtocolError(f"the reader could not complete the transaction (result 0x{code:04X})",
                                  reason=ReaderErrorReason.READER_STATUS, status=code)
    tags = emv_tags(decoded.plain)
    reason = None
    if not accepted:
        tvr = bytes.fromhex(tags.get("95", "0000000000"))
        if len(tvr) == 5 and tvr[4] & 0x40:  # TVR byte 5 bit 7: issuer authentication failed
            reason = "arpc_mismatch"
        elif not response.approved or response.unable_to_go_online:
            reason = "issuer_declined"
        elif not response.emv.get("91"):
            reason = "issuer_authentication_missing"  # the card's risk management wanted an ARPC
        else:
            reason = "aac"
    return Completion(accepted=accepted, emv=tags, reason=reason)


def _status_error(status: int, doing: str) -> ReaderProtocolError:
    name = Status(status).name.lower() if status in Status._value2member_map_ else f"0x{status:02X}"
    return ReaderProtocolError(f"the reader could not {doing} (status {name})", reason=ReaderErrorReason.READER_STATUS, status=status)


def reader_status(tags: dict[str, str], *, name: str, firmware: str | None, serial: str | None,
                  transport: str, address: str | None = None, rssi_dbm: int | None = None) -> ReaderStatus:
    battery = tags.get(codes.TAG_BATTERY_PERCENT)
    model = tags.get(codes.TAG_MODEL)
    return ReaderStatus(
        connected=True, name=name, address=address,
        model=bytes.fromhex(model).decode("ascii", "replace") if model else None, firmware=firmware,
        serial=serial, battery_percent=int(battery, 16) if battery else None, rssi_dbm=rssi_dbm, transport=transport,
    )


def version_text(raw: bytes) -> str:
    """A version string as readers send it: ASCII, possibly 00-terminated
    (ID TECH's 09-03 example, VP3350 Integration Manual §7.4, p. 16)."""
    return raw.rstrip(b"\x00").decode("ascii", "replace").strip()


def main_firmware_version(data: bytes) -> str:
    """The firmware version in a Get Main Firmware Version (09-03) answer:
    the value of its one TLV, DF62 (guide §8.8.3, p. 255)."""
    value = parse(data).plain.get(codes.TAG_MAIN_FIRMWARE_VERSION)
    if value is None:
        raise ReaderProtocolError("the reader's firmware version answer (09-03) has no DF62",
                                  reason=ReaderErrorReason.INCOMPLETE_ANSWER)
    return version_text(bytes.fromhex(value))
