"""The embedded sandbox acquirer, kept running between commands.

With ``gateway.url = sandbox`` every command used to start the sandbox
acquirer in its own process (imports, a socket, a thread) and stop it again.
A real acquirer is another process anyway, so the embedded one now is too:
the first command that needs it starts it in the background, on 127.0.0.1
and an ephemeral port, behind a random bearer key; the commands after it
connect to it; it stops by itself after ``MPOS_SANDBOX_IDLE_SECONDS``
(default 300) without a request and with no connection open, so it never
stops under a payment (the client holds its keep-alive connection from its
first request to its last).

``<data>/sandbox/daemon.json`` (mode 0600, like every file under the home)
says where it listens and its key; ``<data>/sandbox/daemon.lock`` makes
starting it one process's job. Its ledger is the same SQLite file as
before, so nothing changes for ``sandbox ledger``, ``sandbox serve`` or the
data. ``MPOS_SANDBOX_DAEMON=0`` keeps the old way (the acquirer inside the
command's own process), and so does ``MPOS_SANDBOX_HOLD_SECONDS`` (a hold
is a property of the server, and one given for a single command must not
leak into a shared one).

Run as ``python -m mpos_cli.gateway.sandbox.daemon DATA_DIR``: standard
library and the sandbox only, so it is up in a fraction of a command's
start-up.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from mpos_cli.env_seconds import seconds_from_env

DAEMON_ENV = "MPOS_SANDBOX_DAEMON"
IDLE_ENV = "MPOS_SANDBOX_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0
START_TIMEOUT_S = 15.0


HOLD_ENV = "MPOS_SANDBOX_HOLD_SECONDS"  # as in sandbox/server.py, which is not imported here (it is heavy)


def wanted(environ: dict[str, str]) -> bool:
    """Use the shared background sandbox (not one inside this process)?"""
    return environ.get(DAEMON_ENV, "1") != "0" and not environ.get(HOLD_ENV)


def idle_seconds_from(environ: dict[str, str]) -> float:
    return seconds_from_env(environ, IDLE_ENV, default=DEFAULT_IDLE_SECONDS, most=86400, zero_allowed=False)


def _folder(data_dir: Path) -> Path:
    from mpos_cli.storage_util import ensure_dir

    folder = Path(data_dir) / "sandbox"
    ensure_dir(folder)
    return folder


def _state_path(data_dir: Path) -> Path:
    return _folder(data_dir) / "daemon.json"


def read_state(data_dir: Path) -> dict | None:
    try:
        state = json.loads(_state_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and {"url", "key", "pid", "port"} <= state.keys() else None


def _answers(state: dict) -> bool:
    """Is the process alive and listening? (A connection counts as activity
    there, so it will not stop for the idle time after this.)"""
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError):
        return False
    try:
        with socket.create_connection(("127.0.0.1", int(state["port"])), timeout=1.0):
            return True
    except OSError:
        return False


def ensure_running(data_dir: Path, environ: dict[str, str]) -> tuple[str, str]:
    """(base URL, key) of the background sandbox for this home, started if
    it is not running. Raises OSError if it cannot be started."""
    from mpos_cli.storage_util import FILE_MODE

    state = read_state(data_dir)
    if state is not None and _answers(state):
        return state["url"], state["key"]
    lock_fd = os.open(_folder(data_dir) / "daemon.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # one starter; the others wait and then find it running
        state = read_state(data_dir)
        if state is not None and _answers(state):
            return state["url"], state["key"]
        return _start(data_dir, environ, previous=state)
    finally:
        os.close(lock_fd)


def _start(data_dir: Path, environ: dict[str, str], previous: dict | None) -> tuple[str, str]:
    env = {name: value for name, value in environ.items() if name != "MPOS_GATEWAY_KEY"}
    env[IDLE_ENV] = str(idle_seconds_from(environ))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpos_cli.gateway.sandbox.daemon", str(data_dir)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own session: a Ctrl-C at the terminal is not for it
        close_fds=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = read_state(data_dir)
        if state is not None and state["pid"] == proc.pid:
            return state["url"], state["key"]
        if proc.poll() is not None:
            raise OSError(errno.ECHILD, f"the sandbox acquirer exited at start (status {proc.returncode})")
        time.sleep(0.005)
    proc.kill()
    raise OSError(errno.ETIMEDOUT, "the sandbox acquirer did not start in time")


def stop(data_dir: Path, *, timeout_s: float = 10.0) -> bool:
    """Stop the background sandbox of this home; True if one was running."""
    state = read_state(data_dir)
    if state is None:
        return False
    try:
        os.kill(int(state["pid"]), signal.SIGTERM)
    except (OSError, ValueError):
        _remove_state(data_dir, state["pid"])
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and read_state(data_dir) is not None:
        time.sleep(0.02)
    return True


def _remove_state(data_dir: Path, pid: int) -> None:
    state = read_state(data_dir)
    if state is not None and state["pid"] == pid:
        try:
            _state_path(data_dir).unlink()
        except FileNotFoundError:
            pass


# -- the daemon itself ---------------------------------------------------------------


def serve(data_dir: Path, idle_s: float) -> None:
    from mpos_cli.gateway.sandbox.server import make_server
    from mpos_cli.storage_util import atomic_write

    key = secrets.token_urlsafe(24)
    server = make_server("127.0.0.1", 0, data_dir, key=key)
    activity = {"open": 0, "last": time.monotonic()}
    lock = threading.Lock()
    process_request, shutdown_request = server.process_request, server.shutdown_request

    def counted_process(request, client_address):
        with lock:
            activity["open"] += 1
            activity["last"] = time.monotonic()
        process_request(request, client_address)

    def counted_shutdown(request):
        shutdown_request(request)
        with lock:
            activity["open"] -= 1
            activity["last"] = time.monotonic()

    server.process_request = counted_process
    server.shutdown_request = counted_shutdown
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopping.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    port = server.server_address[1]
    pid = os.getpid()
    atomic_write(_state_path(data_dir), json.dumps(
        {"url": server.base_url, "key": key, "pid": pid, "port": port, "idle_seconds": idle_s}
    ).encode())
    try:
        while not stopping.wait(0.5):
            with lock:
                idle = activity["open"] == 0 and time.monotonic() - activity["last"] > idle_s
            if idle:
                break
    finally:
        _remove_state(data_dir, pid)  # new commands start a fresh one from here
        server.stopping.set()
        server.shutdown()
        server.server_close()


def main(argv: list[str]) -> None:
    serve(Path(argv[0]), idle_seconds_from(dict(os.environ)))


if __name__ == "__main__":
    main(sys.argv[1:])
