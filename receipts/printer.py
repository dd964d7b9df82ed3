"""Sending a receipt to a printer: ESC/POS bytes through a transport.

A transport has one primitive, ``write(bytes)``. Printers that mpos reaches
are device files: a Bluetooth serial port bound with ``rfcomm``
(``/dev/rfcomm0``), a USB printer class device (``/dev/usb/lp0``) or a
parallel port. Tests use ``RecordingTransport``, which keeps what it was
sent. The whole receipt is rendered first and written at once, so a
rendering error never leaves half a receipt on paper.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from mpos_cli.errors import MposError
from mpos_cli.receipts.model import Receipt


class PrinterUnavailable(MposError):
    """The printer's device could not be opened or written."""


class PrinterTransport(ABC):
    @abstractmethod
    def write(self, data: bytes) -> None:
        """Deliver ``data`` to the printer, all of it, or raise PrinterUnavailable."""


class DeviceFileTransport(PrinterTransport):
    """A printer behind a character device such as /dev/rfcomm0 or /dev/usb/lp0."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def write(self, data: bytes) -> None:
        hint = "check the printer is on and paired, and that you may write to the device"
        try:
            # No O_CREAT: a mistyped device path must fail, not quietly become a file.
            fd = os.open(self.path, os.O_WRONLY | os.O_NOCTTY)
        except OSError as exc:
            raise PrinterUnavailable(f"cannot open the printer at {self.path}: {exc.strerror}", hint=hint) from exc
        try:
            view = memoryview(data)
            while view:
                # Device writes may be partial (a full Bluetooth or USB buffer).
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            raise PrinterUnavailable(f"the printer at {self.path} stopped: {exc.strerror}", hint=hint) from exc
        finally:
            os.close(fd)


class RecordingTransport(PrinterTransport):
    """Keeps every write, for tests and previews."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def print_receipt(
    receipt: Receipt,
    device: str | os.PathLike[str] | PrinterTransport,
    *,
    columns: int | None = None,
    profile: str | None = None,
) -> bytes:
    """Print ``receipt`` on ``device`` (a device path or a transport); returns the bytes sent."""
    from mpos_cli.receipts.render.escpos_bytes import render_escpos

    transport = device if isinstance(device, PrinterTransport) else DeviceFileTransport(device)
    data = render_escpos(receipt, columns=columns, profile=profile)
    transport.write(data)
    return data
