"""Fixtures for the fault-injection suite: a real sandbox acquirer on
loopback (its own data folder, a bearer key), the fault proxy in front of it,
and the CLI pointed at the proxy."""

from __future__ import annotations

import pytest

from tests.faults.proxy import FaultProxy

KEY = "fault-suite-key-5d1c"


class Acquirer:
    def __init__(self, data_dir, hold_seconds: float = 30.0) -> None:
        from mpos_cli.gateway.sandbox import start_embedded

        self.data_dir = data_dir
        self.url, self.stop = start_embedded(data_dir, key=KEY, hold_seconds=hold_seconds)

    def ledger(self) -> list[dict]:
        from tests.faults.agreement import ledger_of

        return ledger_of(self.data_dir)

    def entry(self, reference: str) -> dict | None:
        return next((e for e in self.ledger() if e["reference"] == reference), None)


@pytest.fixture
def acquirer(tmp_path):
    server = Acquirer(tmp_path / "acquirer")
    yield server
    server.stop()


@pytest.fixture
def proxy(acquirer):
    with FaultProxy(acquirer.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def faulty(monkeypatch, proxy):
    """The CLI talks to the acquirer through the fault proxy."""
    monkeypatch.setenv("MPOS_GATEWAY_URL", proxy.url)
    monkeypatch.setenv("MPOS_GATEWAY_KEY", KEY)
    monkeypatch.setenv("MPOS_GATEWAY_TIMEOUT", "2")
    return proxy
