"""The ``sim`` reader: the simulated NEO 2 reader device, reached in process.

It is the default reader (SPEC §4) and the one the tests and the sandbox
use. Every command goes through the NEO 2 codec over the in-memory
transport, as it would over Bluetooth LE. ``TransactionRequest.scenario``
picks what the simulated customer does (``drivers.sim.device.SCENARIOS``).

``customer_delay_s`` is how long the simulated customer takes to present
the card, and again to type a PIN when the card asks for one (0 by
default: tests and scripts do not wait; ``MPOS_SIM_CUSTOMER_SECONDS`` sets
it for demos and for the interrupt tests). The reader reports both moments
through ``TransactionRequest.on_event``.
"""

from __future__ import annotations

import asyncio

from mpos_cli.drivers.base import CardResult, ReaderEvent, TransactionRequest
from mpos_cli.drivers.neo2.reader import Neo2Reader
from mpos_cli.drivers.sim.device import CONTACTLESS_SCENARIOS, DEFAULT_SCENARIO, SCENARIOS, SimulatedReaderDevice
from mpos_cli.drivers.sim.server import Neo2DeviceServer
from mpos_cli.drivers.transport.memory import FaultHook, MemoryTransport
from mpos_cli.drivers.errors import ReaderRequestError


def check_scenario(scenario: str | None) -> str:
    scenario = scenario or DEFAULT_SCENARIO
    if scenario not in SCENARIOS:
        raise ReaderRequestError(f"unknown card scenario {scenario!r}", hint=f"use one of {', '.join(SCENARIOS)}")
    return scenario


class SimulatedReader(Neo2Reader):
    def __init__(self, *, cvm_limit_minor: int = 5000, name: str = "mpos-sim", timeout_s: float = 60.0,
                 device: SimulatedReaderDevice | None = None, mtu: int | None = None,
                 fault: FaultHook | None = None, customer_delay_s: float = 0.0) -> None:
        self.customer_delay_s = max(0.0, float(customer_delay_s))
        self.device = device or SimulatedReaderDevice(cvm_limit_minor=cvm_limit_minor)
        self.server = Neo2DeviceServer(self.device)
        super().__init__(MemoryTransport(self.server, mtu=mtu, fault=fault, name=name), name=name,
                         timeout_s=timeout_s)

    async def _open_link(self) -> None:
        self.server.reset_link()
        await super()._open_link()

    async def start_transaction(self, request: TransactionRequest) -> CardResult:
        scenario = check_scenario(request.scenario)  # a typo is the user's to fix (exit 2), not a reader fault
        if scenario != "no-card":
            await asyncio.sleep(self.customer_delay_s)  # the customer finds the card
            _tell(request, ReaderEvent.CARD_PRESENTED)
            if scenario != "removed" and self.device.cvm_for(scenario, request.amount_minor) == "online_pin":
                _tell(request, ReaderEvent.PIN_ENTRY)
                await asyncio.sleep(self.customer_delay_s)  # and types the PIN
        else:
            await asyncio.sleep(min(self.customer_delay_s * 2, request.timeout_s))  # nobody comes
        return await super().start_transaction(request)


def _tell(request: TransactionRequest, event: ReaderEvent) -> None:
    if request.on_event is not None:
        request.on_event(event)
