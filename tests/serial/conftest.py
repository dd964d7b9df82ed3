"""The simulated reader on a pseudo-terminal, as ``mpos reader simulate
--serial`` runs it: its own process, the path read from its first line."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.helpers.reader_sessions import start_and_stop

STARTUP_S = 20.0


class SerialSimulator:
    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.path: str | None = None

    def start(self) -> "SerialSimulator":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mpos_cli", "reader", "simulate", "--serial", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=dict(os.environ))
        ready, _, _ = select.select([self.proc.stdout], [], [], STARTUP_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise RuntimeError(f"the serial simulator did not start: {self.proc.stderr.read()}")
        self.path = line.strip()
        return self

    @property
    def spec(self) -> str:
        return f"serial:{self.path}"

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Stop it as a supervisor would; (exit status, stderr)."""
        self.proc.send_signal(signum)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err

    def kill(self) -> None:
        """Pulled cable: no goodbye."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.stop()
        for stream in (self.proc.stdout, self.proc.stderr) if self.proc else ():
            stream.close()


@pytest.fixture
def serial_simulator_factory():
    def start(*args: str) -> SerialSimulator:
        return SerialSimulator(*args).start()

    yield from start_and_stop(start, SerialSimulator.cleanup)


@pytest.fixture
def serial_simulator(serial_simulator_factory):
    return serial_simulator_factory()
