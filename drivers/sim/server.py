"""The simulated reader's NEO 2 front: frames in, frames out.

It decodes the host's command frames (from any chunking), hands each
command to ``SimulatedReaderDevice`` and encodes the answer. The in-memory
transport and the Bluetooth LE peripheral both put this in front of the
device, so the simulator speaks exactly what a real NEO 2 reader would.

A command frame with a bad CRC gets status 04 (CRC error), as on a real
reader, and the host sends it again. Contact Authenticate (60-11) and Apply
Host Response (60-12) are not idempotent at the card (they run the first and
second GENERATE AC), so if the host repeats the identical frame, because our
answer was lost or damaged, the saved answer is sent again instead of
asking the card twice.
"""

from __future__ import annotations

from mpos_cli.drivers.neo2 import tlv
from mpos_cli.drivers.neo2.codes import Command, Status
from mpos_cli.drivers.neo2.frame import CorruptFrame, Frame, FrameDecoder, response_frame
from mpos_cli.drivers.sim.device import DeviceAnswer, SimulatedReaderDevice


CARD_COMMANDS = (Command.CONTACT_AUTHENTICATE_TRANSACTION, Command.CONTACT_APPLY_HOST_RESPONSE)
FIRST_RESPONSE_COMMANDS = (Command.CONTACT_START_TRANSACTION, *CARD_COMMANDS)


class Neo2DeviceServer:
    def __init__(self, device: SimulatedReaderDevice) -> None:
        self.device = device
        self._decoder = FrameDecoder(from_reader=False)
        self._last_card_answer: tuple[Command, bytes, bytes] | None = None  # (command, its data, response frame)
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
        if self._last_card_answer and self._last_card_answer[:2] == (command, frame.data):
            return self._last_card_answer[2]  # a repeat: the card already answered
        try:
            status, data = self._dispatch(command, frame.data)
        except tlv.TlvError:
            status, data = Status.MALFORMED_DATA, b""
        response = response_frame(frame.command, status, data)
        if command in FIRST_RESPONSE_COMMANDS and status == Status.OK:
            # As a stock reader does (guide §8.4.2): "command accepted" at
            # once, the final answer when the card is done.
            response = response_frame(frame.command, Status.FIRST_RESPONSE) + response
        if command in CARD_COMMANDS:
            self._last_card_answer = (command, frame.data, response)
        elif command in (Command.ACTIVATE_TRANSACTION, Command.CONTACT_START_TRANSACTION, Command.CANCEL_TRANSACTION):
            self._last_card_answer = None
        return response

    def _dispatch(self, command: Command, data: bytes) -> tuple[int, bytes]:
        device = self.device
        if command is Command.PING:
            return Status.OK, b""
        if command is Command.GET_MAIN_FIRMWARE_VERSION:
            return _encode(device.main_firmware_version())
        if command is Command.GET_VERSION:
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
        if command is Command.CONTACT_START_TRANSACTION:
            return _encode(device.contact_start(data))
        if command is Command.CONTACT_AUTHENTICATE_TRANSACTION:
            return _encode(device.contact_authenticate(data))
        if command is Command.CONTACT_APPLY_HOST_RESPONSE:
            return _encode(device.contact_apply_host_response(data))
        if command is Command.CANCEL_TRANSACTION:
            return _encode(device.cancel_transaction())
        if command is Command.GET_READER_STATUS:
            return _encode(device.reader_status())
        if command is Command.DISPLAY_MESSAGE:
            return _encode(device.display_message(data.decode("ascii", "replace")))
        return Status.UNKNOWN_COMMAND, b""  # pragma: no cover - every Command is handled above


def _encode(answer: DeviceAnswer) -> tuple[int, bytes]:
    return int(answer.status), answer.data()
