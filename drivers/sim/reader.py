"""The ``sim`` reader: the simulated NEO 2 reader device, reached in process.

It is the default reader (SPEC §4) and the one the tests and the sandbox
use. Every command goes through the NEO 2 codec over the in-memory
transport, as it would over Bluetooth LE. ``TransactionRequest.scenario``
picks what the simulated customer does (``drivers.sim.device.SCENARIOS``).
"""

from __future__ import annotations

from mpos_cli.drivers.base import CardResult, TransactionRequest
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
                 fault: FaultHook | None = None) -> None:
        self.device = device or SimulatedReaderDevice(cvm_limit_minor=cvm_limit_minor)
        self.server = Neo2DeviceServer(self.device)
        super().__init__(MemoryTransport(self.server, mtu=mtu, fault=fault, name=name), name=name,
                         timeout_s=timeout_s)

    async def _open_link(self) -> None:
        self.server.reset_link()
        await super()._open_link()

    async def start_transaction(self, request: TransactionRequest) -> CardResult:
        check_scenario(request.scenario)  # a typo is the user's to fix (exit 2), not a reader fault
        return await super().start_transaction(request)
