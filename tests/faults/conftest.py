"""Fixtures for the fault-injection suite: a real sandbox acquirer on
loopback (its own data folder, a bearer key), the fault proxy in front of it,
and the CLI pointed at the proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.proxy import FaultProxy

KEY = "fault-suite-key-5d1c"


@pytest.fixture(params=["sandbox", "cybersource", "authorizenet"])
def acquirer(tmp_path, request):
    """Each acquirer in turn: the sandbox and the fakes of Cybersource and
    Authorize.Net (tests/fakes/running.py), each a real server on loopback."""
    from tests.fakes.running import start

    server = start(request.param, tmp_path / "acquirer")
    yield server
    server.stop()


@pytest.fixture
def proxy(acquirer, request):
    with FaultProxy(acquirer.base_url) as fault_proxy:
        fault_proxy.classify = acquirer.classify
        yield fault_proxy
    tally = os.environ.get("FAULT_TALLY")  # a file to count the faults injected, for reports
    if tally:
        with open(tally, "a") as out:
            for method, path, _, action in fault_proxy.log:
                if action != "pass":
                    out.write(f"{request.node.name}\t{method} {path.split('/')[2]}\t{action}\n")


@pytest.fixture
def faulty(monkeypatch, proxy, acquirer):
    """The CLI talks to the acquirer through the fault proxy."""
    for name, value in acquirer.env(proxy.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPOS_GATEWAY_TIMEOUT", "2")
    return proxy


REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServedSandbox:
    """``mpos sandbox serve`` as its own process, with its own home; it can be
    stopped and started again on the same port (its ledger persists)."""

    def __init__(self, home: Path, key: str = KEY) -> None:
        self.home = home
        self.key = key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServedSandbox":
        env = dict(os.environ, MPOS_HOME=str(self.home), MPOS_GATEWAY_KEY=self.key)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mpos_cli", "sandbox", "serve", "--port", str(self.port)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mpos sandbox serve exited: {self.proc.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mpos sandbox serve did not start listening")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        self.proc = None

    def ledger(self) -> list[dict]:
        from tests.faults.agreement import ledger_of

        return ledger_of(self.home)

    def entry(self, reference: str) -> dict | None:
        return next((e for e in self.ledger() if e["reference"] == reference), None)


@pytest.fixture
def served_sandbox(tmp_path):
    server = ServedSandbox(tmp_path / "acquirer-home").start()
    try:
        yield server
    finally:
        server.stop()
