"""A NEO 2 reader over any transport: the Reader interface in NEO 2 commands.

Activate Transaction (02-01) carries the amount and terminal data and
returns the card's first GENERATE AC; Continue Transaction (02-05) carries
the issuer's answer and returns the second. Both the simulated reader (in
memory) and Bluetooth LE readers are this class over another transport.
"""

from __future__ import annotations

from mpos_cli.drivers.base import CardResult, Completion, HostResponse, Reader, ReaderStatus, TransactionRequest
from mpos_cli.drivers.neo2 import results, tlv
from mpos_cli.drivers.neo2.client import Neo2Client
from mpos_cli.drivers.neo2.codes import Command, Status
from mpos_cli.drivers.transport.base import Transport
from mpos_cli.drivers.errors import ReaderErrorReason, ReaderError, ReaderProtocolError

# Added to the card wait: the card conversation and PIN entry after a tap.
CARD_SESSION_MARGIN_S = 30.0
CONTINUE_TIMEOUT_S = 15.0


class Neo2Reader(Reader):
    def __init__(self, transport: Transport, *, name: str, timeout_s: float = 60.0,
                 response_timeout_s: float = 5.0) -> None:
        self.transport = transport
        self.name = name
        self.timeout_s = timeout_s
        self.client = Neo2Client(transport, response_timeout_s=response_timeout_s)
        self.firmware: str | None = None
        self.serial: str | None = None
        self._connected = False

    async def _open_link(self) -> None:
        await self.transport.open()

    async def connect(self) -> None:
        await self._open_link()
        try:
            # Ping first: it proves a NEO 2 reader is at the other end.
            await self._expect_ok(Command.PING)
            self.firmware = (await self._expect_ok(Command.GET_FIRMWARE_VERSION)).decode("ascii", "replace")
            status, serial = await self.client.request(Command.GET_SERIAL_NUMBER)
            self.serial = serial.decode("ascii", "replace") if status == Status.OK else None
        except BaseException:
            await self.transport.close()
            raise
        self._connected = True

    async def close(self) -> None:
        self._connected = False
        await self.transport.close()

    async def _expect_ok(self, command: Command, data: bytes = b"") -> bytes:
        status, answer = await self.client.request(command, data)
        if status != Status.OK:
            raise ReaderProtocolError(f"the reader refused {command.label} (status 0x{status:02X})",
                                      reason=ReaderErrorReason.READER_STATUS, status=status)
        return answer

    async def status(self) -> ReaderStatus:
        status, data = await self.client.request(Command.GET_READER_STATUS)
        tags = tlv.decode(data) if status == Status.OK and data else {}
        return results.reader_status(tags, name=self.name, firmware=self.firmware, serial=self.serial,
                                     transport=self.transport.kind, address=self.transport.address,
                                     rssi_dbm=self.transport.rssi_dbm)

    def _activate_tags(self, request: TransactionRequest) -> dict[str, str]:
        return results.activate_request(
            amount_minor=request.amount_minor, currency_numeric=request.currency_numeric,
            transaction_date=request.transaction_date, transaction_type=request.transaction_type,
            country_numeric=request.country_numeric, scenario=request.scenario,
        )

    async def start_transaction(self, request: TransactionRequest) -> CardResult:
        wait_s = max(1, min(255, round(request.timeout_s or self.timeout_s)))
        data = bytes((wait_s,)) + tlv.encode(self._activate_tags(request))
        # Not repeated on silence: the customer may be mid-transaction.
        status, answer = await self.client.request(
            Command.ACTIVATE_TRANSACTION, data, timeout_s=wait_s + CARD_SESSION_MARGIN_S, repeat_on_timeout=False)
        error_code = None
        if status == Status.FAILED and len(answer) >= 4:
            error_code, answer = answer[0], answer[4:]
        return results.card_result(status, _tags(answer), error_code)

    async def complete(self, response: HostResponse) -> Completion:
        data = tlv.encode(results.continue_request(response))
        status, answer = await self.client.request(Command.CONTINUE_TRANSACTION, data, timeout_s=CONTINUE_TIMEOUT_S)
        return results.completion(status, _tags(answer))

    async def cancel(self) -> None:
        await self.client.request(Command.CANCEL_TRANSACTION)

    async def display(self, message: str) -> None:
        try:
            await self.client.request(Command.DISPLAY_MESSAGE, message.encode("ascii", "replace")[:64])
        except ReaderError:
            pass  # a message on the reader's screen is a courtesy, never a failure


def _tags(data: bytes) -> dict[str, str]:
    try:
        return tlv.decode(data) if data else {}
    except tlv.TlvError as exc:
        raise ReaderProtocolError(f"the reader's answer is not valid TLV ({exc})", reason="bad_tlv") from exc


class BleNeo2Reader(Neo2Reader):
    """A NEO 2 reader over Bluetooth LE (reader spec ``ble:ADDRESS`` or ``ble:NAME``)."""

    def __init__(self, target: str, *, adapter: str | None = None, service_uuid: str | None = None,
                 write_uuid: str | None = None, notify_uuid: str | None = None, timeout_s: float = 60.0,
                 scan_timeout_s: float | None = None, response_timeout_s: float = 5.0) -> None:
        from mpos_cli.drivers.transport import ble  # bleak loads only when a BLE reader is used

        transport = ble.BleTransport(
            target, adapter=adapter,
            service_uuid=service_uuid or ble.DEFAULT_SERVICE_UUID,
            write_uuid=write_uuid or ble.DEFAULT_WRITE_UUID,
            notify_uuid=notify_uuid or ble.DEFAULT_NOTIFY_UUID,
            scan_timeout_s=scan_timeout_s or ble.SCAN_TIMEOUT_S,
        )
        super().__init__(transport, name=target, timeout_s=timeout_s, response_timeout_s=response_timeout_s)

    @classmethod
    def from_spec(cls, argument: str | None, options: dict) -> "BleNeo2Reader":
        keys = ("adapter", "service_uuid", "write_uuid", "notify_uuid", "timeout_s", "scan_timeout_s",
                "response_timeout_s")
        return cls(argument or "", **{key: options[key] for key in keys if options.get(key) is not None})
