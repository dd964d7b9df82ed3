"""The journal lock: ``flock`` on ``journal/LOCK``.

Every write takes it exclusively (re-entrant within one ``Journal``);
``verify`` takes it shared. The kernel drops a ``flock`` when its holder
dies, so a crash never leaves a stale lock. While it holds the lock, a
process writes its pid and command into the file, so a process that waits
too long can say who is in the way.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from mpos_cli.errors import JournalLocked, StateUnreadable
from mpos_cli.journal.fileops import FileOps

_HOLDER_WIDTH = 80


def _who() -> bytes:
    argv = [os.path.basename(sys.argv[0] or "python")] + [a for a in sys.argv[1:2] if not a.startswith("-")]
    text = f"pid {os.getpid()} ({' '.join(argv)})"[: _HOLDER_WIDTH - 1]
    return text.ljust(_HOLDER_WIDTH - 1).encode("utf-8", "replace")[: _HOLDER_WIDTH - 1] + b"\n"


class JournalLock:
    def __init__(self, path: Path, timeout: float, ops: FileOps) -> None:
        self.path = path
        self.timeout = timeout
        self.ops = ops
        self._fd: int | None = None
        self.depth = 0
        self.shared = False
        self.epoch = 0  # bumped at each outermost acquisition

    @property
    def held(self) -> bool:
        return self.depth > 0

    @property
    def held_exclusive(self) -> bool:
        return self.depth > 0 and not self.shared

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = self.ops.open(self.path, os.O_RDWR | os.O_CREAT)
            except OSError as exc:
                raise StateUnreadable(
                    f"cannot open the journal lock {self.path}: {exc.strerror or exc}",
                    hint="check that the folder exists and belongs to you",
                ) from exc
        return self._fd

    def acquire(self, *, shared: bool = False, blocking: bool = True) -> bool:
        if self.depth:
            if self.shared and not shared:
                raise RuntimeError("cannot upgrade a shared journal lock to exclusive")
            self.depth += 1
            return True
        fd = self._open()
        operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + (self.timeout if blocking else 0.0)
        pause = 0.002
        while True:
            try:
                self.ops.flock(fd, operation)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    if not blocking:
                        return False
                    raise JournalLocked(
                        f"the journal is locked by another mpos process ({self._holder()}) "
                        f"for more than {self.timeout:g} s",
                        hint="wait for it to finish and try again, or stop it; "
                        "set journal.lock_timeout to wait longer",
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        self.depth = 1
        self.shared = shared
        self.epoch += 1
        if not shared:
            try:
                self.ops.pwrite(fd, _who(), 0)
            except OSError:
                pass  # only a courtesy for the message above
        return True

    def release(self) -> None:
        if self.depth <= 0:
            raise RuntimeError("journal lock released more often than acquired")
        self.depth -= 1
        if self.depth == 0 and self._fd is not None:
            self.ops.flock(self._fd, fcntl.LOCK_UN)

    def _holder(self) -> str:
        try:
            text = self.ops.pread(self._open(), _HOLDER_WIDTH, 0).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        return text or "holder unknown"

    def __enter__(self) -> "JournalLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            self.depth = 0
            self.ops.close(fd)
