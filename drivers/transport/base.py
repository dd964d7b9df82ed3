"""The transport interface: a byte pipe to a reader, chunked like the link.

``write`` takes one whole frame and splits it the way the link must (BLE:
ATT payloads of MTU - 3 bytes); ``read`` returns the next chunk as it came
(a notification, a serial read), so the frame decoder above it must cope
with frames split at any byte. A lost link surfaces as ``ReaderUnavailable``
with a reason.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass

# ATT header on every write and notification (opcode + handle).
ATT_HEADER = 3


@dataclass
class TransportStats:
    """What crossed the link: chunks and bytes each way."""

    writes: int = 0  # host-to-reader chunks (GATT writes)
    notifications: int = 0  # reader-to-host chunks (GATT notifications)
    bytes_written: int = 0  # frame bytes host-to-reader
    bytes_notified: int = 0  # frame bytes reader-to-host

    @property
    def bytes_on_air(self) -> int:
        """Frame bytes plus the ATT header each chunk pays on Bluetooth LE."""
        return self.bytes_written + self.bytes_notified + ATT_HEADER * (self.writes + self.notifications)

    def reset(self) -> None:
        self.writes = self.notifications = self.bytes_written = self.bytes_notified = 0


class LinkLost:
    """Queued in a transport's inbox, behind the chunks, when the link drops."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def discard_chunks(inbox: asyncio.Queue | None) -> None:
    """Empty ``inbox`` of received chunks, keeping any ``LinkLost`` marker."""
    if inbox is None:
        return
    kept = []
    while not inbox.empty():
        item = inbox.get_nowait()
        if isinstance(item, LinkLost):
            kept.append(item)
    for item in kept:
        inbox.put_nowait(item)


class Transport(ABC):
    name: str = "transport"
    kind: str = "memory"  # memory | ble | serial
    address: str | None = None

    def __init__(self) -> None:
        self.stats = TransportStats()

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def write(self, frame: bytes) -> None:
        """Send one frame, split into link-sized chunks."""

    @abstractmethod
    async def read(self, timeout: float) -> bytes:
        """The next chunk from the reader; ``TimeoutError`` when none came in time."""

    def discard_input(self) -> None:
        """Drop chunks already received (stale answers before a new command)."""

    @property
    def rssi_dbm(self) -> int | None:
        return None
