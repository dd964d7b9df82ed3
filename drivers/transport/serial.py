"""Serial transport: NEO 2 frames over RS-232 or a USB virtual COM port (pyserial).

Reader spec ``serial:PATH`` (``/dev/ttyACM0``, ``/dev/ttyUSB0``).
The port is set up as the NEO 2 Interface Developer's Guide asks (ID TECH
80139403-002 Rev. 88.1, §2.7.1 "Port Settings"): 115200 baud "unless
otherwise specified", 8 data bits, 1 stop bit, no parity, and no flow
control of any kind (CTS and DSR output flow, DTR and RTS control, XON/XOFF
all disabled). Only the baud rate can differ from reader to reader (the
guide's Set Baud Rate command changes it), so it is the one setting mpos
takes from the configuration (``serial.baud_rate``).

Frames go out whole: the guide (§2.7.3 "Timeouts") says the reader has no
inter-character timeout, so a frame cut short would leave it waiting.
Answers are read as they arrive, in whatever pieces the driver hands over;
the NEO 2 decoder above reassembles them.

Failures are ``ReaderUnavailable`` (exit 5) with a ``reason``: ``not_found``
(no such port), ``permission_denied``, ``busy`` (another program holds the
port), ``not_a_serial_port``, ``disconnected`` (unplugged, or the other end
of a pseudo-terminal went away, mid-payment included).

pyserial is imported here only, so ``mpos --help`` never loads it.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import sys
import threading

import serial

from mpos_cli.drivers.transport.base import LinkLost, Transport, discard_chunks
from mpos_cli.drivers.errors import ReaderUnavailable

# §2.7.1 Port Settings: "115200 unless otherwise specified", 8N1, no flow control.
DEFAULT_BAUD_RATE = 115200
# A frame is at most a few kilobytes; a port that takes none of it for this
# long is not draining (a reader that hangs, a pseudo-terminal nobody reads).
WRITE_TIMEOUT_S = 2.0
READ_CHUNK = 4096
# Linux numbers Unix98 pseudo-terminal slaves (/dev/pts/N) with majors 136-143
# (Documentation/admin-guide/devices.txt).
_PTY_SLAVE_MAJORS = range(136, 144)


def is_pseudo_terminal(path: str) -> bool:
    """Is ``path`` a pseudo-terminal (as ``mpos reader simulate --serial`` serves)?

    A real reader is never one, so this tells the simulator apart from a
    reader on a USB or RS-232 port.
    """
    try:
        info = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISCHR(info.st_mode):
        return False
    if sys.platform.startswith("linux"):
        return os.major(info.st_rdev) in _PTY_SLAVE_MAJORS
    return os.path.basename(path).startswith("ttys")  # macOS and the BSDs: /dev/ttys00N


def open_error(path: str, exc: serial.SerialException) -> ReaderUnavailable:
    """pyserial's open failure as a reason a person can act on."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return ReaderUnavailable(f"serial port {path} does not exist", reason="not_found",
                                 hint="is the reader plugged in? (ls /dev/ttyACM* /dev/ttyUSB*)")
    if code in (errno.EACCES, errno.EPERM):
        return ReaderUnavailable(f"permission denied on serial port {path}", reason="permission_denied",
                                 hint="add yourself to the group that owns it (often dialout: "
                                      "sudo usermod -aG dialout $USER), then log in again")
    if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
        return ReaderUnavailable(f"serial port {path} is in use by another program", reason="busy",
                                 hint="close the other program (or the other mpos) and try again")
    if "configure port" in str(exc) or code in (errno.ENOTTY, errno.EINVAL, errno.EISDIR):
        return ReaderUnavailable(f"{path} is not a serial port", reason="not_a_serial_port",
                                 hint="give the reader's device, e.g. serial:/dev/ttyACM0")
    return ReaderUnavailable(f"cannot open serial port {path}: {exc}", reason="open_failed")


class SerialTransport(Transport):
    kind = "serial"

    def __init__(self, path: str, *, baud_rate: int = DEFAULT_BAUD_RATE, use_thread: bool | None = None) -> None:
        super().__init__()
        self.path = path
        self.name = path
        self.address = path
        self.baud_rate = baud_rate
        # The event loop watches the port's file descriptor where it can
        # (POSIX); elsewhere (Windows) a thread reads it.
        self.use_thread = use_thread
        self._port: serial.Serial | None = None
        self._inbox: asyncio.Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._stop_thread = threading.Event()
        self._lost: str | None = None

    # -- opening and closing ---------------------------------------------------------

    async def open(self) -> None:
        port = serial.Serial()
        port.port = self.path
        port.baudrate = self.baud_rate
        port.bytesize, port.parity, port.stopbits = serial.EIGHTBITS, serial.PARITY_NONE, serial.STOPBITS_ONE
        port.xonxoff = port.rtscts = port.dsrdtr = False
        # §2.7.1: DTR and RTS control disabled (pyserial raises both by default).
        port.dtr = port.rts = False
        port.write_timeout = WRITE_TIMEOUT_S
        if os.name == "posix":
            port.exclusive = True  # flock: a second mpos on the same port is told it is busy
        use_thread = self.use_thread if self.use_thread is not None else os.name != "posix"
        # Reads never block the event loop: the loop says when bytes are
        # there (timeout 0), or the thread polls (short timeout).
        port.timeout = 0.05 if use_thread else 0
        try:
            port.open()
        except serial.SerialException as exc:
            raise open_error(self.path, exc) from exc
        except (OSError, ValueError) as exc:
            raise ReaderUnavailable(f"cannot open serial port {self.path}: {exc}", reason="open_failed") from exc
        port.reset_input_buffer()  # whatever an earlier session left unread is not ours
        self._port, self._lost = port, None
        self._loop = asyncio.get_running_loop()
        self._inbox = asyncio.Queue()
        if use_thread:
            self._stop_thread.clear()
            self._thread = threading.Thread(target=self._read_in_thread, name=f"serial {self.path}", daemon=True)
            self._thread.start()
        else:
            self._watching_fd = port.fileno()
            self._loop.add_reader(self._watching_fd, self._on_readable)

    async def close(self) -> None:
        self._stop_watching()
        if self._thread is not None:
            self._stop_thread.set()
            await asyncio.to_thread(self._thread.join, 1.0)
            self._thread = None
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass  # already gone (unplugged)
        self._inbox = None

    def _stop_watching(self) -> None:
        if self._watching_fd is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._watching_fd)
        self._watching_fd = None

    # -- link events -------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        if self._inbox is not None:
            self.stats.notifications += 1
            self.stats.bytes_notified += len(data)
            self._inbox.put_nowait(data)

    def _link_lost(self, detail: str) -> None:
        if self._lost is None and self._inbox is not None:
            self._lost = detail
            self._inbox.put_nowait(LinkLost(detail))

    def _on_readable(self) -> None:
        try:
            data = self._port.read(READ_CHUNK)
        except (serial.SerialException, OSError) as exc:
            # Unplugged, or the far end of a pseudo-terminal closed: the
            # descriptor stays "readable" for ever, so stop watching it.
            self._stop_watching()
            self._link_lost(str(exc))
            return
        if data:
            self._received(data)

    def _read_in_thread(self) -> None:
        port, loop = self._port, self._loop
        while not self._stop_thread.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if not self._stop_thread.is_set():
                    loop.call_soon_threadsafe(self._link_lost, str(exc))
                return
            if data:
                loop.call_soon_threadsafe(self._received, data)

    # -- data -----------------------------------------------------------------------------

    def _require_open(self) -> serial.Serial:
        if self._port is None or self._inbox is None:
            raise ReaderUnavailable(f"reader on {self.path} is not connected", reason="not_connected")
        if self._lost is not None:
            raise self._disconnected()
        return self._port

    def _disconnected(self) -> ReaderUnavailable:
        return ReaderUnavailable(f"reader on {self.path} disconnected", reason="disconnected",
                                 hint="check its cable (or restart the simulator), then try again")

    async def write(self, frame: bytes) -> None:
        port = self._require_open()
        try:
            port.write(frame)
        except serial.SerialTimeoutException as exc:
            raise ReaderUnavailable(f"reader on {self.path} is not taking data", reason="disconnected",
                                    hint="check that it is on and its cable, then try again") from exc
        except (serial.SerialException, OSError) as exc:
            self._stop_watching()
            self._link_lost(str(exc))
            raise self._disconnected() from exc
        self.stats.writes += 1
        self.stats.bytes_written += len(frame)

    async def read(self, timeout: float) -> bytes:
        if self._inbox is None:
            raise ReaderUnavailable(f"reader on {self.path} is not connected", reason="not_connected")
        item = await asyncio.wait_for(self._inbox.get(), timeout)
        if isinstance(item, LinkLost):
            self._inbox.put_nowait(item)  # and on every later read
            raise self._disconnected()
        return item

    def discard_input(self) -> None:
        discard_chunks(self._inbox)
