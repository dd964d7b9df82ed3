"""The ``sim`` reader: the simulated NEO 2 reader device, reached in process.

It is the default reader (SPEC §4) and the one the tests and the sandbox
use. ``TransactionRequest.scenario`` picks what the simulated customer does
(``drivers.sim.device.SCENARIOS``).
"""

from __future__ import annotations

from drivers.base import CardResult, Completion, HostResponse, Reader, ReaderStatus, TransactionRequest
from drivers.neo2 import results
from drivers.sim.device import DEFAULT_SCENARIO, SCENARIOS, SimulatedReaderDevice
from mpos_cli.errors import ReaderUnavailable, UsageError


class SimulatedReader(Reader):
    def __init__(self, *, cvm_limit_minor: int = 5000, name: str = "mpos-sim",
                 device: SimulatedReaderDevice | None = None) -> None:
        self.name = name
        self.device = device or SimulatedReaderDevice(cvm_limit_minor=cvm_limit_minor)
        self._connected = False

    def _require_connection(self) -> None:
        if not self._connected:
            raise ReaderUnavailable(f"reader {self.name} is not connected", reason="not_connected",
                                    hint="connect to the reader first")

    async def connect(self) -> None:
        self._connected = True

    async def close(self) -> None:
        self._connected = False

    async def status(self) -> ReaderStatus:
        self._require_connection()
        answer = self.device.reader_status()
        return results.reader_status(answer.data, name=self.name, firmware=self.device.firmware,
                                     serial=self.device.serial, transport="memory")

    async def start_transaction(self, request: TransactionRequest) -> CardResult:
        scenario = request.scenario or DEFAULT_SCENARIO
        if scenario not in SCENARIOS:
            raise UsageError(f"unknown card scenario {scenario!r}", hint=f"use one of {', '.join(SCENARIOS)}")
        self._require_connection()
        tags = results.activate_request(
            amount_minor=request.amount_minor, currency_numeric=request.currency_numeric,
            transaction_date=request.transaction_date, transaction_type=request.transaction_type,
            country_numeric=request.country_numeric, scenario=scenario,
        )
        answer = self.device.activate_transaction(tags)
        return results.card_result(answer.status, answer.data, answer.error_code)

    async def complete(self, response: HostResponse) -> Completion:
        self._require_connection()
        answer = self.device.continue_transaction(results.continue_request(response))
        return results.completion(answer.status, answer.data)

    async def cancel(self) -> None:
        if self._connected:
            self.device.cancel_transaction()

    async def display(self, message: str) -> None:
        if self._connected:
            self.device.display_message(message)
