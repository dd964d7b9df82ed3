"""NEO 2 ("ViVOpay") command, status and error codes, and the TLV tags we use.

Numbers follow ID TECH's NEO 2 Interface Developer's Guide where it defines
them; tags in the DFEF7x range are ours (mpos), chosen in the proprietary
class where the guide defines nothing that fits, and documented in
mpos-reader-protocol(7).
"""

from __future__ import annotations

from enum import IntEnum


class Command(IntEnum):
    """(command << 8) | sub-command, as the guide writes them: 02-01 is 0x0201."""

    ACTIVATE_TRANSACTION = 0x0201
    CONTINUE_TRANSACTION = 0x0205  # online result (8A, 91) to the card: second GENERATE AC
    CANCEL_TRANSACTION = 0x0501
    GET_SERIAL_NUMBER = 0x1201
    PING = 0x1801
    GET_FIRMWARE_VERSION = 0x2900
    # mpos's own (the guide has no portable battery query, and display
    # commands differ from model to model): group F7, unused by the guide.
    GET_READER_STATUS = 0xF701  # battery and model, as TLV
    DISPLAY_MESSAGE = 0xF702  # show one line of ASCII text on the reader, if it has a screen

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
    """Status code: byte 11 of a response frame."""

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


class ErrorCode(IntEnum):
    """First byte of the data of a FAILED Activate Transaction answer."""

    NO_ERROR = 0x00
    REQUEST_ONLINE_AUTHORIZATION = 0x23
    CARD_COMMUNICATION_ERROR = 0x24  # e.g. the card left the field
    UNSUPPORTED_CARD = 0x27
    CARD_DID_NOT_RESPOND = 0x30


# EMV and ID TECH tags we read and write.
TAG_POS_ENTRY_MODE = "9F39"  # 05 chip, 07 contactless chip, 90 magnetic stripe
TAG_TRANSACTION_CVM = "DF52"  # ID TECH: 00 none, 01 signature, 02 online PIN
TAG_TRACK_DATA_SOURCE = "DF30"  # ID TECH: 0C swiped, 00 contactless, (ours) 01 contact chip
TAG_ONLINE_RESPONSE_CODE = "8A"
TAG_ISSUER_AUTHENTICATION = "91"

# mpos proprietary tags (DFEF7x).
TAG_SEALED_CARD_DATA = "DFEF71"  # ASCII: AES-GCM sealed PAN, PSN, expiry, CVN, scheme
TAG_SEALED_PIN_BLOCK = "DFEF72"  # ASCII: sealed online PIN block
TAG_MASKED_PAN = "DFEF73"  # ASCII: first 6 + last 4
TAG_SCHEME = "DFEF74"  # ASCII: visa, mastercard, ...
TAG_DECLINE_REASON = "DFEF75"  # ASCII: why the card gave an AAC (arpc_mismatch, ...)
TAG_UNABLE_TO_GO_ONLINE = "DFEF76"  # 01: the host could not reach the issuer
TAG_BATTERY_PERCENT = "DFEF77"  # b1
TAG_MODEL = "DFEF78"  # ASCII
TAG_SIM_SCENARIO = "DFEF7F"  # ASCII, simulated reader only: which card the customer presents

ENTRY_MODES = {"05": "chip", "07": "contactless", "90": "swipe"}
ENTRY_MODE_CODES = {mode: code for code, mode in ENTRY_MODES.items()}
CVMS = {"00": "none", "01": "signature", "02": "online_pin"}
CVM_CODES = {cvm: code for code, cvm in CVMS.items()}
TRACK_SOURCES = {"contactless": "00", "chip": "01", "swipe": "0C"}
