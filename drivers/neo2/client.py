"""Host side of NEO 2: send a command, get its answer, retry what got damaged.

One command is in flight at a time (the guide: wait for the answer before
the next command). A damaged answer (CRC mismatch) or a reader reporting
that our command arrived damaged (status 04) makes the client send the same
frame again, at most ``attempts`` times in all; a command that got no answer
in time is repeated only when repeating it is harmless. A first response
(status 63, no data: the guide's "command accepted" for the contact
commands) is not the answer: the client waits on for the final one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from mpos_cli.drivers.neo2.codes import Command, Status
from mpos_cli.drivers.neo2.frame import CorruptFrame, Frame, FrameDecoder, command_frame
from mpos_cli.drivers.transport.base import Transport
from mpos_cli.drivers.errors import ReaderProtocolError, ReaderUnavailable

DEFAULT_ATTEMPTS = 3
DEFAULT_RESPONSE_TIMEOUT_S = 5.0


@dataclass
class ClientStats:
    commands: int = 0
    frames_sent: int = 0  # retries included
    frames_received: int = 0
    corrupt_frames: int = 0  # damaged answers we saw, and damaged commands the reader reported
    retries: int = 0
    payload_bytes_sent: int = 0  # data fields only (TLV)
    payload_bytes_received: int = 0


class Neo2Client:
    def __init__(self, transport: Transport, *, attempts: int = DEFAULT_ATTEMPTS,
                 response_timeout_s: float = DEFAULT_RESPONSE_TIMEOUT_S) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.transport = transport
        self.attempts = attempts
        self.response_timeout_s = response_timeout_s
        self.stats = ClientStats()
        self._decoder = FrameDecoder(from_reader=True)
        self._lock = asyncio.Lock()

    async def request(self, command: Command, data: bytes = b"", *, timeout_s: float | None = None,
                      repeat_on_timeout: bool = True) -> tuple[int, bytes]:
        """(status, data) of the reader's answer to ``command``."""
        frame = command_frame(command.command, command.sub_command, data)
        timeout_s = self.response_timeout_s if timeout_s is None else timeout_s
        async with self._lock:
            self.stats.commands += 1
            for attempt in range(1, self.attempts + 1):
                if attempt > 1:
                    self.stats.retries += 1
                self.transport.discard_input()
                self._decoder.reset()
                self.stats.frames_sent += 1
                self.stats.payload_bytes_sent += len(data)
                await self.transport.write(frame)
                try:
                    answer = await self._answer_to(command, timeout_s)
                except TimeoutError:
                    if repeat_on_timeout and attempt < self.attempts:
                        continue
                    raise ReaderUnavailable(
                        f"the reader did not answer {command.label} within {timeout_s:g} s",
                        reason="no_response", hint="check that the reader is on and near",
                    ) from None
                if isinstance(answer, CorruptFrame) or answer.code == Status.CRC_ERROR:
                    self.stats.corrupt_frames += 1
                    continue
                self.stats.payload_bytes_received += len(answer.data)
                return answer.code, answer.data
        raise ReaderProtocolError(
            f"{command.label} stayed damaged in transit after {self.attempts} attempts",
            reason="crc_error", hint="move the reader closer, or restart it",
        )

    async def _answer_to(self, command: Command, timeout_s: float) -> Frame | CorruptFrame:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            chunk = await self.transport.read(remaining)
            for item in self._decoder.feed(chunk):
                if isinstance(item, CorruptFrame):
                    return item
                self.stats.frames_received += 1
                if item.command == command.command:
                    if item.code == Status.FIRST_RESPONSE and not item.data:
                        continue  # the reader's "command accepted" (§8.4.2): the answer follows
                    return item
                # An answer to some earlier command, arriving late: not ours.
