"""``mpos till`` in a real terminal: its own process on a pseudo-terminal
(80×24), one item sold by keyboard, quit with q; the sale is in the journal
with its items."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time

from tests.conftest import REPO


class Terminal:
    """A child process on a pseudo-terminal, and everything it drew."""

    def __init__(self, argv: list[str], env: dict[str, str], size=(24, 80)) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def wait_for(self, words: str, timeout: float = 60.0, since: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = self.text().find(words, since)
            if at >= 0:
                return at + len(words)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{words!r} never appeared; the screen drew: {self.text()[-3000:]!r}")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self.reader.join(5)
        os.close(self.master)


def test_mpos_till_sells_one_item_in_a_real_terminal_and_quits_with_0(catalogue, isolated_home):
    env = dict(os.environ, TERM="xterm-256color", MPOS_HOME=str(isolated_home))
    env.pop("COLUMNS", None)
    terminal = Terminal([sys.executable, "-m", "mpos_cli", "till"], env)
    try:
        seen = terminal.wait_for("Ready.")  # the catalogue is read and the reader connected
        terminal.type("2")
        seen = terminal.wait_for("Added Mat", since=seen)
        terminal.type("\r")
        seen = terminal.wait_for("APPROVED", since=seen)
        terminal.type("\r")
        seen = terminal.wait_for("Next sale", since=seen)
        terminal.type("q")
        assert terminal.process.wait(30) == 0, terminal.text()[-2000:]
    finally:
        terminal.close()
    listed = catalogue("journal", "list", "--json")
    [sale] = listed.json()
    assert sale["status"] == "approved" and sale["amount_minor"] == 300
    assert sale["items"] == [{"name": "Mat", "quantity": 1, "unit_minor": 300}]


def test_mpos_till_refuses_to_run_without_a_terminal(mpos):
    result = mpos("till")
    assert result.exit_code == 2
    assert result.stderr == "mpos: error: mpos till needs a terminal: run it in a terminal; for scripts use mpos charge --item\n"
