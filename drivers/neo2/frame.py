"""NEO 2 frames: encode, and a streaming decoder that survives any split.

A frame (NEO 2 Interface Developer's Guide, "Protocol 2")::

    "ViVOtech2\\0"  command  sub-command|status  length(2, big-endian)  data  CRC(2)

The CRC is CRC-16/CCITT (polynomial 0x1021, initial value 0xFFFF, no
reflection, no final xor: ``binascii.crc_hqx(frame, 0xFFFF)``) over every
byte before it, header included. Its byte order depends on who sends: the
terminal sends it least significant byte first, the reader most
significant byte first. The guide's own examples show it: Ping from the
terminal is ``... 18 01 00 00 B3 CD`` (CRC 0xCDB3), the reader's answer
``... 18 00 00 00 FA 83`` (CRC 0xFA83).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

HEADER = b"ViVOtech2\x00"
HEADER_SIZE = len(HEADER) + 4  # header, command, sub-command/status, length
CRC_SIZE = 2
OVERHEAD = HEADER_SIZE + CRC_SIZE  # 16 bytes around the data
# The guide's largest data field is a few kilobytes (configuration dumps);
# a length beyond this is a corrupt length field, not a real frame.
MAX_DATA = 0x2000


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True)
class Frame:
    command: int
    code: int  # sub-command in a command frame, status code in a response
    data: bytes = b""
    from_reader: bool = False  # a response (reader to terminal)?

    def encode(self) -> bytes:
        if not (0 <= self.command <= 0xFF and 0 <= self.code <= 0xFF):
            raise ValueError("command and sub-command/status are single bytes")
        if len(self.data) > MAX_DATA:
            raise ValueError(f"data of {len(self.data)} bytes is more than a frame carries ({MAX_DATA})")
        body = HEADER + bytes((self.command, self.code)) + len(self.data).to_bytes(2, "big") + self.data
        return body + crc16(body).to_bytes(2, "big" if self.from_reader else "little")


def command_frame(command: int, sub_command: int, data: bytes = b"") -> bytes:
    return Frame(command, sub_command, data, from_reader=False).encode()


def response_frame(command: int, status: int, data: bytes = b"") -> bytes:
    return Frame(command, status, data, from_reader=True).encode()


@dataclass(frozen=True)
class CorruptFrame:
    """A frame whose CRC did not match (or whose length was impossible)."""

    command: int | None
    reason: str  # crc_mismatch | bad_length


class FrameDecoder:
    """Reassemble frames from chunks split anywhere (BLE MTU, serial reads).

    ``feed`` returns what completed: ``Frame`` objects and ``CorruptFrame``
    markers. Bytes before a header are noise and skipped; after a corrupt
    frame the decoder looks for the next header one byte further on, so a
    damaged length field cannot swallow the frames that follow.
    """

    def __init__(self, *, from_reader: bool) -> None:
        self.from_reader = from_reader  # which side's frames we decode (CRC byte order)
        self._buffer = bytearray()
        self.noise_bytes = 0

    def feed(self, chunk: bytes) -> list[Frame | CorruptFrame]:
        self._buffer += chunk
        out: list[Frame | CorruptFrame] = []
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                # Keep a tail that could be the start of a header split across chunks.
                keep = _partial_header_suffix(self._buffer)
                self.noise_bytes += len(self._buffer) - keep
                del self._buffer[: len(self._buffer) - keep]
                return out
            if start:
                self.noise_bytes += start
                del self._buffer[:start]
            if len(self._buffer) < HEADER_SIZE:
                return out
            length = int.from_bytes(self._buffer[12:14], "big")
            if length > MAX_DATA:
                out.append(CorruptFrame(self._buffer[10], "bad_length"))
                del self._buffer[:1]
                continue
            size = HEADER_SIZE + length + CRC_SIZE
            if len(self._buffer) < size:
                return out
            raw = bytes(self._buffer[:size])
            expected = crc16(raw[:-CRC_SIZE])
            got = int.from_bytes(raw[-CRC_SIZE:], "big" if self.from_reader else "little")
            if got != expected:
                out.append(CorruptFrame(raw[10], "crc_mismatch"))
                del self._buffer[:1]
                continue
            del self._buffer[:size]
            out.append(Frame(raw[10], raw[11], raw[HEADER_SIZE:-CRC_SIZE], self.from_reader))

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buffer)

    def reset(self) -> None:
        self._buffer.clear()


def _partial_header_suffix(buffer: bytearray) -> int:
    for keep in range(min(len(HEADER) - 1, len(buffer)), 0, -1):
        if buffer.endswith(HEADER[:keep]):
            return keep
    return 0
