"""A NEO 2 reader over any transport: the Reader interface in NEO 2 commands.

- Contactless (guide §8.5.1): Activate Transaction 02-40 with the amount;
  the reader answers status 23 (request online authorisation) with the
  card's ARQC, or the final result. The card has left the field by then, so
  the online answer decides the sale (EMV Book C-3 / C-2: no second GENERATE
  AC and no ARPC check at the card for an online contactless transaction).
- Contact (guide §8.4.18-20): Contact Start Transaction 60-10 (card read,
  or a swipe when the chip fails: fallback), Contact Authenticate
  Transaction 60-11 (CVM, PIN, first GENERATE AC: result 0004 go online),
  and after the issuer's answer Contact Apply Host Response 60-12 (8A, 91,
  71/72 to the card, second GENERATE AC).

Both the simulated reader (in memory) and Bluetooth LE readers are this
class over another transport.
"""

from __future__ import annotations

from mpos_cli.drivers.base import CardResult, Completion, HostResponse, Reader, ReaderStatus, TransactionRequest
from mpos_cli.drivers.neo2 import results, tlv
from mpos_cli.drivers.neo2.client import Neo2Client
from mpos_cli.drivers.neo2.codes import NOT_IMPLEMENTED, Command, ContactResult, Status
from mpos_cli.drivers.transport.base import Transport
from mpos_cli.drivers.errors import ReaderError, ReaderErrorReason, ReaderProtocolError

# Added to the card wait: the card conversation and PIN entry after a tap.
CARD_SESSION_MARGIN_S = 30.0
COMPLETE_TIMEOUT_S = 15.0
# 60-10's TimeOut2: how long the reader waits for 60-11 after the card is read.
AUTHENTICATE_WAIT_S = 30
INTERFACES = ("contactless", "contact")
# Simulator scenarios (SPEC §4) whose customer inserts or swipes the card:
# over any transport, a simulated customer's card decides the interface.
CONTACT_SCENARIOS = frozenset({"chip", "swipe", "offline-decline", "issuer-auth-required"})


class Neo2Reader(Reader):
    def __init__(self, transport: Transport, *, name: str, timeout_s: float = 60.0,
                 response_timeout_s: float = 5.0, interface: str = "contactless") -> None:
        if interface not in INTERFACES:
            raise ValueError(f"interface must be one of {INTERFACES}")
        self.transport = transport
        self.name = name
        self.timeout_s = timeout_s
        self.interface = interface
        self.client = Neo2Client(transport, response_timeout_s=response_timeout_s)
        self.firmware: str | None = None
        self.serial: str | None = None
        self._connected = False
        self._awaiting_host: str | None = None  # "contact" between 60-11 (go online) and 60-12

    async def _open_link(self) -> None:
        await self.transport.open()

    async def connect(self) -> None:
        await self._open_link()
        try:
            # Ping first: it proves a NEO 2 reader is at the other end.
            await self._expect_ok(Command.PING)
            self.firmware = await self._firmware_version()
            status, serial = await self.client.request(Command.GET_SERIAL_NUMBER)
            self.serial = serial.decode("ascii", "replace") if status == Status.OK else None
        except BaseException:
            await self.transport.close()
            raise
        self._connected = True

    async def close(self) -> None:
        self._connected = False
        await self.transport.close()

    async def _firmware_version(self) -> str:
        """Get Main Firmware Version (09-03, guide §8.8.3), the command ID
        TECH's current manuals give; a reader older than it answers "unknown
        (sub-)command" (NOT_IMPLEMENTED), and is asked Get Version: Protocol 2
        (29-00, §8.2.10) instead."""
        status, answer = await self.client.request(Command.GET_MAIN_FIRMWARE_VERSION)
        if status == Status.OK:
            return results.main_firmware_version(answer)
        if status not in NOT_IMPLEMENTED:
            raise ReaderProtocolError(
                f"the reader refused {Command.GET_MAIN_FIRMWARE_VERSION.label} (status 0x{status:02X})",
                reason=ReaderErrorReason.READER_STATUS, status=status)
        return results.version_text(await self._expect_ok(Command.GET_VERSION))

    async def _expect_ok(self, command: Command, data: bytes = b"") -> bytes:
        status, answer = await self.client.request(command, data)
        if status != Status.OK:
            raise ReaderProtocolError(f"the reader refused {command.label} (status 0x{status:02X})",
                                      reason=ReaderErrorReason.READER_STATUS, status=status)
        return answer

    async def status(self) -> ReaderStatus:
        status, data = await self.client.request(Command.GET_READER_STATUS)  # extension: may be unknown
        tags = tlv.decode(data) if status == Status.OK and data else {}
        return results.reader_status(tags, name=self.name, firmware=self.firmware, serial=self.serial,
                                     transport=self.transport.kind, address=self.transport.address,
                                     rssi_dbm=self.transport.rssi_dbm)

    def interface_for(self, request: TransactionRequest) -> str:
        if request.scenario is not None:
            return "contact" if request.scenario in CONTACT_SCENARIOS else "contactless"
        return self.interface

    def _tags(self, request: TransactionRequest) -> dict[str, str]:
        return results.transaction_tags(
            amount_minor=request.amount_minor, currency_numeric=request.currency_numeric,
            transaction_type=request.transaction_type, country_numeric=request.country_numeric,
            scenario=request.scenario,
        )

    async def start_transaction(self, request: TransactionRequest) -> CardResult:
        self._awaiting_host = None
        wait_s = max(1, min(255, round(request.timeout_s or self.timeout_s)))
        if self.interface_for(request) == "contact":
            return await self._contact(request, wait_s)
        data = bytes((wait_s,)) + tlv.encode(self._tags(request))
        # Not repeated on silence: the customer may be mid-transaction.
        status, answer = await self.client.request(
            Command.ACTIVATE_TRANSACTION, data, timeout_s=wait_s + CARD_SESSION_MARGIN_S, repeat_on_timeout=False)
        return results.contactless_result(status, answer)

    async def _contact(self, request: TransactionRequest, wait_s: int) -> CardResult:
        data = results.start_request(fallback=True, card_wait_s=wait_s, authenticate_wait_s=AUTHENTICATE_WAIT_S,
                                     tags=self._tags(request))
        status, answer = await self.client.request(
            Command.CONTACT_START_TRANSACTION, data, timeout_s=wait_s + CARD_SESSION_MARGIN_S, repeat_on_timeout=False)
        code, read = results.contact_answer("read the card", status, answer)
        if code == ContactResult.MSR_SUCCESS:
            # The chip could not be read and the customer swiped (fallback):
            # no cryptogram, the host goes online with the track data.
            return results.card_result(read, decision="online", entry_mode="swipe")
        if code != ContactResult.START_TRANSACTION_SUCCESS:
            raise ReaderProtocolError(f"the reader could not start the chip transaction (result 0x{code:04X})",
                                      reason=ReaderErrorReason.READER_STATUS, status=code)
        status, answer = await self.client.request(
            Command.CONTACT_AUTHENTICATE_TRANSACTION, b"\x00", timeout_s=CARD_SESSION_MARGIN_S,
            repeat_on_timeout=False)
        code, authenticated = results.contact_answer("authenticate the card", status, answer)
        merged = tlv.Decoded({**read.plain, **authenticated.plain}, {**read.masked, **authenticated.masked},
                             {**read.encrypted, **authenticated.encrypted})
        if code == ContactResult.GO_ONLINE:
            self._awaiting_host = "contact"
            return results.card_result(merged, decision="online", entry_mode="chip")
        if code == ContactResult.DECLINED_OFFLINE:
            return results.card_result(merged, decision="declined", entry_mode="chip")
        raise ReaderProtocolError(f"the card ended the transaction (result 0x{code:04X})", reason=ReaderErrorReason.READER_STATUS,
                                  status=code)

    async def complete(self, response: HostResponse) -> Completion:
        if self._awaiting_host != "contact":
            # Contactless (and swipes): the card is gone; the issuer's answer is final.
            return Completion(accepted=response.approved and not response.unable_to_go_online, emv={},
                              reason=None if response.approved else "issuer_declined")
        self._awaiting_host = None
        status, answer = await self.client.request(
            Command.CONTACT_APPLY_HOST_RESPONSE, results.apply_host_response_request(response),
            timeout_s=COMPLETE_TIMEOUT_S)
        return results.contact_completion(status, answer, response)

    async def cancel(self) -> None:
        self._awaiting_host = None
        await self.client.request(Command.CANCEL_TRANSACTION)

    async def display(self, message: str) -> None:
        try:
            await self.client.request(Command.DISPLAY_MESSAGE, message.encode("ascii", "replace")[:64])
        except ReaderError:
            pass  # a message on the reader's screen is a courtesy, never a failure


class BleNeo2Reader(Neo2Reader):
    """A NEO 2 reader over Bluetooth LE (reader spec ``ble:ADDRESS`` or ``ble:NAME``)."""

    def __init__(self, target: str, *, adapter: str | None = None, service_uuid: str | None = None,
                 write_uuid: str | None = None, notify_uuid: str | None = None, timeout_s: float = 60.0,
                 scan_timeout_s: float | None = None, response_timeout_s: float = 5.0,
                 interface: str = "contactless", known_address: str | None = None, on_progress=None,
                 on_connected=None) -> None:
        from mpos_cli.drivers.transport import ble  # bleak loads only when a BLE reader is used

        transport = ble.BleTransport(
            target, adapter=adapter,
            service_uuid=service_uuid or ble.DEFAULT_SERVICE_UUID,
            write_uuid=write_uuid or ble.DEFAULT_WRITE_UUID,
            notify_uuid=notify_uuid or ble.DEFAULT_NOTIFY_UUID,
            scan_timeout_s=scan_timeout_s or ble.SCAN_TIMEOUT_S,
            known_address=known_address, on_progress=on_progress, on_connected=on_connected,
        )
        super().__init__(transport, name=target, timeout_s=timeout_s, response_timeout_s=response_timeout_s,
                         interface=interface)

    @classmethod
    def from_spec(cls, argument: str | None, options: dict) -> "BleNeo2Reader":
        keys = ("adapter", "service_uuid", "write_uuid", "notify_uuid", "timeout_s", "scan_timeout_s",
                "response_timeout_s", "interface", "known_address", "on_progress", "on_connected")
        return cls(argument or "", **{key: options[key] for key in keys if options.get(key) is not None})
