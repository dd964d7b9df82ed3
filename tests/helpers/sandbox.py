"""The sandbox acquirer as a real server on loopback, two ways:

- ``Sandbox``: embedded in the test process (threads), with its own data folder;
- ``ServedSandbox``: ``mpos sandbox serve`` as its own process, with its own
  home; it can be stopped and started again on the same port (its ledger
  persists).

Both are reached with a bearer key, ``KEY``, and read their own ledger back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

KEY = "test-bearer-key-7f3a"
REPO = Path(__file__).resolve().parents[2]


def point_cli_at(monkeypatch, url: str, *, timeout_s: float) -> None:
    """Every ``mpos`` the test runs talks to the acquirer at ``url``."""
    monkeypatch.setenv("MPOS_GATEWAY_URL", url)
    monkeypatch.setenv("MPOS_GATEWAY_KEY", KEY)
    monkeypatch.setenv("MPOS_GATEWAY_TIMEOUT", f"{timeout_s:g}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Ledger:
    data_dir: Path

    def ledger(self) -> list[dict]:
        """The acquirer's own view, read from its database."""
        from tests.helpers.agreement import ledger_of

        return ledger_of(self.data_dir)

    def entry(self, reference: str) -> dict | None:
        return next((e for e in self.ledger() if e["reference"] == reference), None)


class Sandbox(Ledger):
    """One embedded sandbox acquirer and the data folder it keeps its ledger in."""

    def __init__(self, data_dir: Path, *, hold_seconds: float = 30.0, key: str | None = KEY) -> None:
        from mpos_cli.gateway.sandbox import start_embedded

        self.data_dir = data_dir
        self.key = key
        self.url, self.stop = start_embedded(data_dir, key=key, hold_seconds=hold_seconds)
        self.gateways: list = []

    def gateway(self, **options):
        """An ``HttpGateway`` to it (closed with the sandbox)."""
        from mpos_cli.gateway.client import HttpGateway

        options.setdefault("key", self.key)
        options.setdefault("timeout", 10.0)
        options.setdefault("sandbox", True)
        gateway = HttpGateway(options.pop("url", self.url), **options)
        self.gateways.append(gateway)
        return gateway

    def close(self) -> None:
        for gateway in self.gateways:
            gateway.close()
        self.stop()


class ServedSandbox(Ledger):
    """``mpos sandbox serve`` as its own process (``key`` None: it asks for none)."""

    def __init__(self, home: Path, key: str | None = KEY) -> None:
        self.home = self.data_dir = home
        self.key = key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServedSandbox":
        env = dict(os.environ, MPOS_HOME=str(self.home))
        if self.key is not None:
            env["MPOS_GATEWAY_KEY"] = self.key
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
