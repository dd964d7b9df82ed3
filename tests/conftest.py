"""Every test runs in its own home with no colour and a fixed width (hatch style)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    for name in list(os.environ):
        if name.startswith("MPOS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MPOS_HOME", str(home))
    # The sandbox acquirer inside each command's process, as before: a suite
    # of tmp homes must not leave a background acquirer per home behind
    # (tests/cli/test_background_sandbox.py covers the background one).
    monkeypatch.setenv("MPOS_SANDBOX_DAEMON", "0")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    return home


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # what pytest shows when an assertion fails
        return f"Result(exit_code={self.exit_code}, stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})"


class _Stream(io.StringIO):
    def __init__(self, text: str = "", tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def mpos(isolated_home):
    """Run the CLI in-process: ``mpos("charge", "12.50", "--json")``."""
    from mpos_cli.cli import run
    from mpos_cli.env import Environment

    def invoke(*args: str, stdin: str = "", tty: bool = False, env: dict | None = None) -> Result:
        environ = dict(os.environ)
        environ.update(env or {})
        out, err = _Stream(), _Stream()
        environment = Environment(environ=environ, stdin=_Stream(stdin, tty), stdout=out, stderr=err)
        code = run(list(args), environment)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def mpos_process(isolated_home):
    """Run the CLI as its own process, as a user or a cron job would."""

    def invoke(*args: str, env: dict | None = None, timeout: float = 120, stdin: str = "") -> Result:
        environ = dict(os.environ)
        environ.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "mpos_cli", *args], capture_output=True, text=True, env=environ,
            timeout=timeout, input=stdin, cwd=REPO,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return invoke


# -- the acquirer as a server, and faults in front of it (tests/helpers/) --------


@pytest.fixture
def sandbox(tmp_path):
    """An embedded sandbox acquirer on loopback, with its own data folder."""
    from tests.helpers.sandbox import Sandbox

    server = Sandbox(tmp_path / "acquirer")
    yield server
    server.close()


@pytest.fixture
def gateway(sandbox):
    return sandbox.gateway()


@pytest.fixture(params=["sandbox", "cybersource", "authorizenet"])
def acquirer(tmp_path, request):
    """Each acquirer in turn, a real server on loopback: the sandbox, and the
    fakes of Cybersource and Authorize.Net (tests/fakes/running.py)."""
    from tests.fakes.running import start

    server = start(request.param, tmp_path / "acquirer")
    yield server
    server.stop()


@pytest.fixture
def proxy(acquirer, request):
    """The fault proxy in front of ``acquirer``, naming each vendor's requests
    by the sandbox route of the same meaning."""
    from tests.helpers.fault_proxy import FaultProxy

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


@pytest.fixture
def served_sandbox(tmp_path):
    """``mpos sandbox serve`` as its own process, with its own home."""
    from tests.helpers.sandbox import ServedSandbox

    server = ServedSandbox(tmp_path / "acquirer-home").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (the hub, doctor's hub check)."""
    from tests.hub.postgres_server import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (tests/run.sh installs Debian's postgresql)")
    server = PostgresServer(binaries).init().start()
    try:
        server.setup_role()
        yield server
    finally:
        server.destroy()
