"""The reader interface every driver implements.

A payment at the reader has two halves, as in EMV:

1. ``start_transaction``: the amount goes to the reader, the customer taps,
   inserts or swipes, enters a PIN if asked; the reader answers with the
   card's first GENERATE AC (an ARQC for online, an AAC for an offline
   decline) and the EMV data the acquirer needs.
2. ``complete``: the acquirer's answer (8A response code, 91 issuer
   authentication data carrying the ARPC, 71/72 scripts) goes back to the
   card, which gives its final word (TC to accept, AAC to refuse).

Sensitive card data never leaves a reader in clear: ``encrypted_card_data``
and ``encrypted_pin_block`` are opaque to mpos and only the acquirer can
read them (SPEC §8).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable


class ReaderEvent(str, enum.Enum):
    """What the reader tells the host while a card is read, when it can tell
    (``TransactionRequest.on_event``). The simulated reader reports both; a
    stock NEO 2 reader answers Activate Transaction only at the end, so over
    BLE the host sees neither (and shows "present card" throughout)."""

    CARD_PRESENTED = "card_presented"
    PIN_ENTRY = "pin_entry"  # the card asked for online PIN: the customer types it on the reader


@dataclass(frozen=True)
class TransactionRequest:
    amount_minor: int  # total, tip included (EMV 9F02)
    currency_numeric: str  # ISO 4217 numeric, e.g. "978" (EMV 5F2A)
    currency_exponent: int
    transaction_date: datetime  # EMV 9A / 9F21
    transaction_type: str = "00"  # EMV 9C: 00 purchase, 20 refund
    country_numeric: str = "0372"  # EMV 9F1A terminal country
    # Simulated reader only: which card the simulated customer presents (SPEC §4).
    scenario: str | None = None
    timeout_s: float = 60.0
    # Called with a ``ReaderEvent`` as the reader learns it (may never be called).
    on_event: Callable[[ReaderEvent], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CardResult:
    """The card's answer to the first GENERATE AC, and how it was read."""

    decision: str  # "online" (ARQC), "declined" (AAC offline decline)
    entry_mode: str  # contactless | chip | swipe
    cvm: str  # none | online_pin | offline_pin | signature
    scheme: str  # visa | mastercard | ...
    masked_pan: str  # first 6 + last 4
    expiry: str | None  # YYMM
    emv: dict[str, str]  # EMV tags (hex tag -> hex value), never 57/5A/5F20/99
    encrypted_card_data: str  # opaque blob only the acquirer can read
    encrypted_pin_block: str | None = None  # opaque; online PIN only

    @property
    def aid(self) -> str | None:
        return self.emv.get("4F") or self.emv.get("84")

    @property
    def application_label(self) -> str | None:
        label = self.emv.get("50")
        return bytes.fromhex(label).decode("ascii", "replace") if label else None


@dataclass(frozen=True)
class HostResponse:
    """The acquirer's answer, as handed back to the card."""

    approved: bool
    response_code: str  # ISO 8583 two characters, e.g. "00"
    emv: dict[str, str] = field(default_factory=dict)  # 8A, 91, 71, 72
    unable_to_go_online: bool = False


@dataclass(frozen=True)
class Completion:
    """The card's final word after the host answer (second GENERATE AC)."""

    accepted: bool  # TC: True; AAC: False
    emv: dict[str, str]  # 9F26 (TC or AAC), 9F27, 95 (TVR), 9B (TSI), ...
    reason: str | None = None  # e.g. "arpc_mismatch" when the card refused the issuer


@dataclass(frozen=True)
class ReaderStatus:
    connected: bool
    name: str
    address: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    battery_percent: int | None = None
    rssi_dbm: int | None = None
    transport: str = "memory"  # memory | ble | serial


class Reader(ABC):
    """A card reader. Async, because the real ones speak Bluetooth.

    Errors are ``mpos_cli.drivers.errors.ReaderError`` subclasses, each with a
    ``ReaderErrorReason``: ``ReaderUnavailable``, ``ReaderTimeout``,
    ``CardRemoved``, ``ReaderProtocolError``, ``ReaderRequestError``.
    """

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def status(self) -> ReaderStatus: ...

    @abstractmethod
    async def start_transaction(self, request: TransactionRequest) -> CardResult: ...

    @abstractmethod
    async def complete(self, response: HostResponse) -> Completion: ...

    @abstractmethod
    async def cancel(self) -> None: ...

    async def display(self, message: str) -> None:  # optional: readers without a screen ignore it
        return None

    async def __aenter__(self) -> "Reader":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
