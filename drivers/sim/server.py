"""The simulated reader's NEO 2 front: frames in, frames out.

It decodes the host's command frames (from any chunking), hands each
command to ``SimulatedReaderDevice`` and encodes the answer. The in-memory
transport and the Bluetooth LE peripheral both put this in front of the
device, so the simulator speaks exactly what a real NEO 2 reader would.

A command frame with a bad CRC gets status 04 (CRC error), as on a real
reader, and the host sends it again. Continue Transaction is not
idempotent at the card (it runs the second GENERATE AC), so if the host
repeats the identical frame, because our answer was lost or damaged, the
saved answer is sent again instead of asking the card twice.
"""

from __future__ import annotations

from mpos_cli.drivers.neo2 import tlv
from mpos_cli.drivers.neo2.codes import Command, Status
from mpos_cli.drivers.neo2.frame import CorruptFrame, Frame, FrameDecoder, response_frame
from mpos_cli.drivers.sim.device import DeviceAnswer, SimulatedReaderDevice

# RF state code in a FAILED answer: where the card conversation stopped.
# The guide numbers these per kernel; we report 00 (unspecified).
RF_STATE_UNSPECIFIED = 0x00


class Neo2DeviceServer:
    def __init__(self, device: SimulatedReaderDevice) -> None:
        self.device = device
        self._decoder = FrameDecoder(from_reader=False)
        self._last_continue: tuple[bytes, bytes] | None = None  # (command data, response frame)
        self.frames_received = 0
        self.crc_errors = 0

    def reset_link(self) -> None:
        """A new connection: drop half-received bytes (the card state stays)."""
        self._decoder.reset()

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        for item in self._decoder.feed(chunk):
            if isinstance(item, CorruptFrame):
                self.crc_errors += 1
                out.append(response_frame(item.command or 0, Status.CRC_ERROR))
                continue
            self.frames_received += 1
            out.append(self.handle(item))
        return out

    def handle(self, frame: Frame) -> bytes:
        command = Command.of(frame.command, frame.code)
        if command is None:
            known_group = any(c.command == frame.command for c in Command)
            status = Status.UNKNOWN_SUB_COMMAND if known_group else Status.UNKNOWN_COMMAND
            return response_frame(frame.command, status)
        if command is Command.CONTINUE_TRANSACTION and self._last_continue and self._last_continue[0] == frame.data:
            return self._last_continue[1]  # a repeat: the card already answered
        try:
            status, data = self._dispatch(command, frame.data)
        except tlv.TlvError:
            status, data = Status.MALFORMED_DATA, b""
        response = response_frame(frame.command, status, data)
        if command is Command.CONTINUE_TRANSACTION:
            self._last_continue = (frame.data, response)
        elif command is Command.ACTIVATE_TRANSACTION:
            self._last_continue = None
        return response

    def _dispatch(self, command: Command, data: bytes) -> tuple[int, bytes]:
        device = self.device
        if command is Command.PING:
            return Status.OK, b""
        if command is Command.GET_FIRMWARE_VERSION:
            return Status.OK, device.firmware.encode("ascii")
        if command is Command.GET_SERIAL_NUMBER:
            return Status.OK, device.serial.encode("ascii")
        if command is Command.ACTIVATE_TRANSACTION:
            if not data:
                return Status.INCORRECT_PARAMETER, b""
            # Byte 0 is the card wait timeout in seconds. The simulated
            # customer acts at once (or never, for no-card), so it only
            # matters to a real reader.
            return _encode(device.activate_transaction(tlv.decode(data[1:])))
        if command is Command.CONTINUE_TRANSACTION:
            return _encode(device.continue_transaction(tlv.decode(data)))
        if command is Command.CANCEL_TRANSACTION:
            return _encode(device.cancel_transaction())
        if command is Command.GET_READER_STATUS:
            return _encode(device.reader_status())
        if command is Command.DISPLAY_MESSAGE:
            return _encode(device.display_message(data.decode("ascii", "replace")))
        return Status.UNKNOWN_COMMAND, b""  # pragma: no cover - every Command is handled above


def _encode(answer: DeviceAnswer) -> tuple[int, bytes]:
    data = tlv.encode(answer.data) if answer.data else b""
    if answer.error_code is not None:
        # Guide: a FAILED answer starts with error code, SW1, SW2, RF state code.
        data = bytes((answer.error_code, 0x00, 0x00, RF_STATE_UNSPECIFIED)) + data
    return int(answer.status), data
