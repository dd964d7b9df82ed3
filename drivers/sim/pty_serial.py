"""The simulated reader on a pseudo-terminal, as if on a serial cable.

``mpos reader simulate --serial`` opens a pseudo-terminal pair, puts it in
raw mode (no echo, no line editing: NEO 2 frames are binary), and answers
the frames written to its slave end (``/dev/pts/N``) with
``Neo2DeviceServer`` in front of ``SimulatedReaderDevice``: the same device
the in-process ``sim`` reader and the Bluetooth LE peripheral use. A host
opens the slave path with ``serial:/dev/pts/N`` exactly as it would a USB or
RS-232 reader.

The simulator keeps the slave end open itself, so a host closing the port
(one payment ends) does not hang the line up: the next payment opens it
again and finds the same reader, its cards' counters where they were.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tty
from typing import Callable

from mpos_cli.drivers.sim.device import SimulatedReaderDevice
from mpos_cli.drivers.sim.server import Neo2DeviceServer
from mpos_cli.drivers.transport.base import TransportStats


class PtyReader:
    """One simulated reader behind one pseudo-terminal."""

    def __init__(self, device: SimulatedReaderDevice | None = None, *, cvm_limit_minor: int = 5000) -> None:
        self.device = device or SimulatedReaderDevice(cvm_limit_minor=cvm_limit_minor)
        self.server = Neo2DeviceServer(self.device)
        self.stats = TransportStats()  # the host's writes and the frames it is sent, from this end
        self.master_fd: int | None = None
        self.slave_fd: int | None = None
        self.path: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> str:
        """Create the pseudo-terminal; returns the path hosts open."""
        self.master_fd, self.slave_fd = os.openpty()
        # Raw on the slave side: the line discipline must pass bytes as they
        # are (a 0x0D in a CRC must not become 0x0A, nothing echoed back).
        tty.setraw(self.slave_fd)
        self.path = os.ttyname(self.slave_fd)
        return self.path

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        os.set_blocking(self.master_fd, False)
        loop.add_reader(self.master_fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self.master_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            return  # no host holds the line; we keep the slave open, so this is transient
        if not chunk:
            return
        self.stats.writes += 1
        self.stats.bytes_written += len(chunk)
        for frame in self.server.feed(chunk):
            self._send(frame)

    def _send(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            try:
                written = os.write(self.master_fd, view)
            except BlockingIOError:
                # The host is not reading and the line's buffer is full: what
                # a real reader would do is lose the bytes; so do we.
                return
            view = view[written:]
        self.stats.notifications += 1
        self.stats.bytes_notified += len(frame)

    def close(self) -> None:
        if self._loop is not None and self.master_fd is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.master_fd)
        for fd in (self.master_fd, self.slave_fd):
            if fd is not None:
                os.close(fd)
        self.master_fd = self.slave_fd = None


async def run_pty_reader(reader: PtyReader, *, on_ready: Callable[[str], None] | None = None,
                         stop: asyncio.Event | None = None) -> int:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives; returns the signal number (0 for ``stop``)."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    received: list[int] = []

    def stop_on(signum: int) -> None:
        received.append(signum)
        stop.set()

    handled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop_on, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests): ``stop`` ends it
    path = reader.path or reader.open()
    reader.start(loop)
    try:
        if on_ready:
            on_ready(path)
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        reader.close()
    return received[0] if received else 0


def serve_pty(*, on_ready: Callable[[str], None] | None = None, device: SimulatedReaderDevice | None = None,
              cvm_limit_minor: int = 5000) -> int:
    """Run the simulated reader on a new pseudo-terminal until SIGTERM or SIGINT."""
    return asyncio.run(run_pty_reader(PtyReader(device, cvm_limit_minor=cvm_limit_minor), on_ready=on_ready))
