"""The reader layer's own errors (as bleak's ``BleakError`` carries a reason).

Every failure a reader driver, transport or the simulator can raise is a
``ReaderError`` with a ``reason`` from ``ReaderErrorReason``: what went wrong,
for a program to act on; ``message`` and ``hint`` are for people. The
drivers know nothing of exit codes or of how errors are shown: the core
maps these classes onto SPEC §6's statuses and one line of text
(``mpos_cli.errors.exit_status_of``, ``one_line_of``).
"""

from __future__ import annotations

from enum import StrEnum


class ReaderErrorReason(StrEnum):
    # Bluetooth and the link (ReaderUnavailable)
    BLUETOOTH_OFF = "bluetooth_off"
    BLUETOOTH_UNAVAILABLE = "bluetooth_unavailable"
    ADAPTER_NOT_FOUND = "adapter_not_found"
    ADAPTER_OFF = "adapter_off"
    NO_DBUS = "no_dbus"
    NO_BLUEZ = "no_bluez"
    REGISTER_FAILED = "register_failed"
    BLE_ERROR = "ble_error"
    NOT_FOUND = "not_found"
    CONNECT_FAILED = "connect_failed"
    SERVICE_MISSING = "service_missing"
    NOT_CONNECTED = "not_connected"
    DISCONNECTED = "disconnected"
    # A serial port (ReaderUnavailable)
    PERMISSION_DENIED = "permission_denied"
    BUSY = "busy"
    NOT_A_SERIAL_PORT = "not_a_serial_port"
    OPEN_FAILED = "open_failed"
    # The card and the customer (ReaderTimeout, CardRemoved)
    NO_CARD = "no_card"
    CARD_REMOVED = "card_removed"
    # The protocol (ReaderProtocolError)
    NO_RESPONSE = "no_response"
    CRC_ERROR = "crc_error"
    BAD_TLV = "bad_tlv"
    CLEAR_CARD_DATA = "clear_card_data"  # the reader sent PAN or track in clear: its encryption is off
    INCOMPLETE_ANSWER = "incomplete_answer"
    NO_TRANSACTION = "no_transaction"
    READER_STATUS = "reader_status"  # the reader answered a command with an error status
    VOIDED = "voided"
    # What was asked of the reader (ReaderRequestError)
    BAD_REQUEST = "bad_request"
    UNKNOWN = "unknown"


class ReaderError(Exception):
    """Base of every reader failure."""

    def __init__(
        self, message: str, *, reason: ReaderErrorReason | str = ReaderErrorReason.UNKNOWN, hint: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = ReaderErrorReason(reason)
        self.hint = hint
        self.status = status  # the reader's own status byte, for READER_STATUS


class ReaderUnavailable(ReaderError):
    """Not found, disconnected, Bluetooth off."""


class ReaderTimeout(ReaderError):
    """Nobody presented a card in time."""


class CardRemoved(ReaderError):
    """The card left the field or slot before the transaction completed."""


class ReaderProtocolError(ReaderError):
    """A frame that stayed corrupt after retries, or an answer we cannot parse."""


class ReaderRequestError(ReaderError):
    """What was asked of the reader cannot be done: an unknown reader spec or
    card scenario, an amount the reader cannot take."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, reason=ReaderErrorReason.BAD_REQUEST, hint=hint)
