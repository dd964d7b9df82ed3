"""NEO 2 ("ViVOpay") command, status and result codes, and the tags mpos uses.

Section numbers are those of ID TECH's *NEO 2 Interface Developer's Guide*
(80139403-002 Rev. 88.1, October 2019; public copy at manualshive.com,
"IDTECH Vivopay Neo 2 Developer's Manual", page numbers given too).
What is mpos's own is marked **extension**: a stock reader does not need it
and mpos works without it (mpos-reader-protocol(7) lists them).
"""

from __future__ import annotations

from enum import IntEnum


class Command(IntEnum):
    """(command << 8) | sub-command, as the guide writes them: 02-40 is 0x0240."""

    ACTIVATE_TRANSACTION = 0x0240  # §8.5.1 (p. 208): contactless, unified plaintext/encrypted
    CANCEL_TRANSACTION = 0x0501  # §8.5.6 (p. 242)
    # §8.8.3 (p. 255): the answer is one TLV, DF62, the main firmware version
    # (ASCII; ID TECH's example ends it with 00). mpos asks this first.
    GET_MAIN_FIRMWARE_VERSION = 0x0903
    GET_SERIAL_NUMBER = 0x1201  # §8.2 Get Serial Number
    PING = 0x1801  # §8.2 Ping (frame example in §3, "Protocol 2")
    # §8.2.10 (p. 131) "Get Version: Protocol 2": the version string as the
    # whole data field. Asked when a reader does not know 09-03.
    GET_VERSION = 0x2900
    CONTACT_START_TRANSACTION = 0x6010  # §8.4.18 (p. 178)
    CONTACT_AUTHENTICATE_TRANSACTION = 0x6011  # §8.4.19 (p. 185)
    CONTACT_APPLY_HOST_RESPONSE = 0x6012  # §8.4.20 (p. 189): Complete Transaction
    # Extensions (group F7, unused by the guide): a battery level and model,
    # and one line of text on a screen. A stock reader answers 02 (unknown
    # command) and mpos goes on without them.
    GET_READER_STATUS = 0xF701
    DISPLAY_MESSAGE = 0xF702

    @classmethod
    def of(cls, command: int, sub_command: int) -> "Command | None":
        return cls._value2member_map_.get((command << 8) | sub_command)

    @property
    def command(self) -> int:
        return self.value >> 8

    @property
    def sub_command(self) -> int:
        return self.value & 0xFF

    @property
    def label(self) -> str:
        return f"{self.name.lower().replace('_', ' ')} ({self.command:02X}-{self.sub_command:02X})"


class Status(IntEnum):
    """Status code, byte 11 of a response frame (guide Table 6, p. 28)."""

    OK = 0x00
    INCORRECT_HEADER_TAG = 0x01
    UNKNOWN_COMMAND = 0x02
    UNKNOWN_SUB_COMMAND = 0x03
    CRC_ERROR = 0x04
    INCORRECT_PARAMETER = 0x05
    PARAMETER_NOT_SUPPORTED = 0x06
    MALFORMED_DATA = 0x07
    TIMEOUT = 0x08
    FAILED = 0x0A
    COMMAND_NOT_ALLOWED = 0x0B
    SUB_COMMAND_NOT_ALLOWED = 0x0C
    BUFFER_OVERFLOW = 0x0D
    USER_INTERFACE_EVENT = 0x0E
    REQUEST_ONLINE_AUTHORIZATION = 0x23
    # §8.4.2 (p. 160): "If command is OK, first response 0x63": a reader
    # acknowledges 60-10/60-11/60-12 at once (data empty), and sends the
    # final answer when the card is done. ID TECH's test scripts expect
    # "60 63 00 00" first, then "60 00 ..." (first response control DFED59).
    FIRST_RESPONSE = 0x63


# What a reader that lacks a command answers (Table 6, p. 28): 02 when it has
# no such command group, 03 when it has the group but not the sub-command.
# The guide on group 09 (§8.8, p. 252): sub-commands it does not list "will
# return an 'unknown sub-command' error", which is how a reader older than
# 09-03 answers it.
NOT_IMPLEMENTED = frozenset({Status.UNKNOWN_COMMAND, Status.UNKNOWN_SUB_COMMAND})


class ErrorCode(IntEnum):
    """Error code, first byte of FFEE1F in a failed 02-40 answer (guide Table 8, p. 31-34)."""

    NO_ERROR = 0x00
    COLLISION = 0x21
    AMOUNT_OVER_MAXIMUM_LIMIT = 0x22
    REQUEST_ONLINE_AUTHORIZATION = 0x23
    CARD_COMMUNICATION_ERROR = 0x24  # e.g. the card left the field
    CARD_BLOCKED = 0x25
    CARD_EXPIRED = 0x26
    UNSUPPORTED_CARD = 0x27
    CARD_DID_NOT_RESPOND = 0x30


class ContactResult(IntEnum):
    """The 2-byte result code of a 60-10/60-11/60-12 answer, in tag DFEE25.

    The guide (§8.4.19, p. 185): "If response code is 00 04, then need go
    online process and send Apply Host Response command". ID TECH's NEO 2
    test scripts read it from DFEE25 in the final answer ("DF EE 25 02 00
    10" after 60-10, "... 00 04" after 60-11, "... 00 02" after 60-12);
    those three are checked against them (tests/drivers/
    test_neo2_conformance.py). The other values are those of ID TECH's
    Universal SDK EMV result codes (mpos's reading).
    """

    APPROVED_OFFLINE = 0x0000
    DECLINED_OFFLINE = 0x0001
    APPROVED = 0x0002
    DECLINED = 0x0003
    GO_ONLINE = 0x0004
    CALL_YOUR_BANK = 0x0005
    NOT_ACCEPTED = 0x0006
    USE_MAGSTRIPE = 0x0007
    TIME_OUT = 0x0008
    START_TRANSACTION_SUCCESS = 0x0010
    MSR_SUCCESS = 0x0011


# Attribution byte leading a 02-40 answer (guide §8.5.3, p. 232-233).
ATTRIBUTION_CONTACTLESS_EMV = 0x01  # bits 4/3/0 = 001
ATTRIBUTION_MSR = 0x08  # bits 4/3/0 = 01x
ATTRIBUTION_AES = 0x02  # bits 2/1 = 01 (00: TDES)
ATTRIBUTION_ENCRYPTION_ON = 0xC0  # bits 7/6 = 11: MSR/MSD on, EMV on

# Tags (EMV Book 3 Annex A, and the guide's ID TECH tags).
TAG_KSN = "DFEE12"  # §8.5.3: KSN of the DUKPT data key, 10 bytes (TDES) or 12 (AES)
TAG_PIN_KSN = "DFEE51"  # §8.4.19 output list: PIN KSN, 10 or 12 bytes
TAG_PIN_BLOCK = "99"  # EMV "Transaction PIN Data": the encrypted online PIN block
TAG_ERROR_TABLE = "FFEE1F"  # §8.5.3: error code, SW1, SW2, RF state code
TAG_TRACK2_DATA = "DFEF18"  # §8.5.1 response TLVs: Track 2 Data (ans), masked/encrypted
TAG_POS_ENTRY_MODE = "9F39"  # §8.5.1 p. 215: 05 contact, 07 contactless, 90 swipe, 91 MSD, 80 fallback
TAG_TRANSACTION_CVM = "DF52"  # §8.5.1 p. 220: 00 none, 01 signature, 02 online PIN, 03 device CVM
TAG_TRACK_DATA_SOURCE = "DF30"  # p. 216/238: 0C swipe, 00 contactless, 01 contact (inside FFEE01)
TAG_GROUP = "FFEE01"  # ViVOpay group tag (container)
TAG_CONTACT_RESULT = "DFEE25"  # 60-1x answers: the 2-byte result code (ContactResult)
TAG_ENCRYPT_INFORMATION = "DFEE26"  # p. 238: byte 1 as the Attribution byte; NEO II: 2 bytes
TAG_MSR_DATA = "DFEE23"  # p. 185/238: an entire Enhanced Encrypted MSR data block (80000502-001)
TAG_MAIN_FIRMWARE_VERSION = "DF62"  # §8.8.3 (p. 255): 09-03 answer, the version string
TAG_ONLINE_RESPONSE_CODE = "8A"
TAG_ISSUER_AUTHENTICATION = "91"
# Extension tags, only inside the extension commands above or to the simulator.
TAG_BATTERY_PERCENT = "DFEF77"  # F7-01 answer: b1
TAG_MODEL = "DFEF78"  # F7-01 answer: ASCII
TAG_SIM_SCENARIO = "DFEF7F"  # simulator only: which card the simulated customer presents

# Sensitive objects: never taken in clear (SPEC §8). Track 1/2 equivalent,
# PAN, cardholder names, track data, Track 1/2 Data (DFEF17/18), MSR data.
SENSITIVE_TAGS = frozenset({"56", "57", "5A", "5F20", "9F0B", "9F1F", "9F20", "9F6B", "5F30",
                            "DFEF17", "DFEF18", "DFEE23", "99"})

ENTRY_MODES = {"05": "chip", "07": "contactless", "91": "contactless", "90": "swipe", "80": "swipe"}
CVMS = {"00": "none", "01": "signature", "02": "online_pin", "03": "none"}
CVM_CODES = {"none": "00", "signature": "01", "online_pin": "02"}
TRACK_SOURCES = {"contactless": "00", "chip": "01", "swipe": "0C"}
# Registered application provider IDs (first 5 bytes of the AID).
SCHEMES_BY_RID = {"A000000003": "visa", "A000000004": "mastercard", "A000000025": "amex",
                  "A000000065": "jcb", "A000000152": "discover", "A000000277": "interac"}
