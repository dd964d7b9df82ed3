"""In-memory transport: the host talks to a device server in the same process.

Used by the ``sim`` reader, so every simulated payment goes through the NEO
2 codec exactly as a Bluetooth one does. ``mtu`` forces frames to be split
into chunks of ``mtu - 3`` bytes like ATT payloads; ``fault`` may change a
frame on its way (direction ``"to_reader"`` or ``"to_host"``) to exercise
CRC recovery.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol

from mpos_cli.drivers.transport.base import ATT_HEADER, Transport
from mpos_cli.drivers.errors import ReaderUnavailable

FaultHook = Callable[[str, bytes], bytes]


class FrameServer(Protocol):
    def feed(self, chunk: bytes) -> list[bytes]:
        """Bytes in from the host; whole response frames out."""


def split(frame: bytes, mtu: int | None) -> list[bytes]:
    if not mtu:
        return [frame]
    size = max(1, mtu - ATT_HEADER)
    return [frame[i : i + size] for i in range(0, len(frame), size)] or [b""]


class MemoryTransport(Transport):
    kind = "memory"

    def __init__(self, server: FrameServer, *, mtu: int | None = None, fault: FaultHook | None = None,
                 name: str = "memory") -> None:
        super().__init__()
        self.server = server
        self.mtu = mtu
        self.fault = fault
        self.name = name
        self._inbox: asyncio.Queue[bytes] | None = None

    async def open(self) -> None:
        self._inbox = asyncio.Queue()

    async def close(self) -> None:
        self._inbox = None

    def _require_open(self) -> asyncio.Queue:
        if self._inbox is None:
            raise ReaderUnavailable(f"reader {self.name} is not connected", reason="not_connected")
        return self._inbox

    async def write(self, frame: bytes) -> None:
        inbox = self._require_open()
        if self.fault:
            frame = self.fault("to_reader", frame)
        for chunk in split(frame, self.mtu):
            self.stats.writes += 1
            self.stats.bytes_written += len(chunk)
            for response in self.server.feed(chunk):
                if self.fault:
                    response = self.fault("to_host", response)
                for piece in split(response, self.mtu):
                    self.stats.notifications += 1
                    self.stats.bytes_notified += len(piece)
                    inbox.put_nowait(piece)

    async def read(self, timeout: float) -> bytes:
        inbox = self._require_open()
        return await asyncio.wait_for(inbox.get(), timeout)

    def discard_input(self) -> None:
        if self._inbox is not None:
            while not self._inbox.empty():
                self._inbox.get_nowait()
