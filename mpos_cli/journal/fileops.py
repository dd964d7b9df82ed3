"""Every system call the journal makes, in one small class.

The journal never calls ``os`` directly for its files: it goes through a
``FileOps`` instance. Production uses this one; the crash tests swap in a
subclass that fails or "dies" at the Nth write, fsync or rename (in the style
of SQLite's crash tests), so every step of every write path is exercised
against a fault.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


class FileOps:
    # -- descriptors ---------------------------------------------------------

    def open(self, path: Path | str, flags: int, mode: int = FILE_MODE) -> int:
        return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), mode)

    def close(self, fd: int) -> None:
        os.close(fd)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self.write(fd, view)
            if written <= 0:  # pragma: no cover - the kernel never does this for files
                raise OSError("short write")
            view = view[written:]

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        return os.pread(fd, size, offset)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def flock(self, fd: int, operation: int) -> None:
        fcntl.flock(fd, operation)

    # -- paths ---------------------------------------------------------------

    def stat(self, path: Path | str) -> os.stat_result:
        return os.stat(path)

    def listdir(self, path: Path | str) -> list[str]:
        return os.listdir(path)

    def replace(self, src: Path | str, dst: Path | str) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path | str) -> None:
        os.unlink(path)

    def mkdir(self, path: Path | str) -> None:
        """Create a 0700 folder (and its parents); an existing one is made 0700.

        A folder it creates is made durable: its parent is fsynced, so that
        what is later fsynced inside it cannot vanish with it in a power cut.
        """
        path = Path(path)
        if path.is_dir():
            if os.stat(path).st_mode & 0o777 != DIR_MODE:
                os.chmod(path, DIR_MODE)
            return
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)
        self.fsync_dir(path.parent)

    def fsync_dir(self, path: Path | str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- helpers built on the calls above -----------------------------------

    def read_range(self, path: Path | str, start: int, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of a file (to its end when ``end`` is None)."""
        fd = self.open(path, os.O_RDONLY)
        try:
            if end is None:
                end = self.fstat(fd).st_size
            chunks = []
            offset = start
            while offset < end:
                chunk = self.pread(fd, min(end - offset, 1 << 24), offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
            return b"".join(chunks)
        finally:
            self.close(fd)

    def write_new_file(self, path: Path, data: bytes, *, durable: bool = True) -> None:
        """Atomically create or replace ``path``: temp file, fsync, rename, folder fsync.

        ``durable=False`` skips both fsyncs (for caches that are checked on
        read and rebuilt when wrong).
        """
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = self.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            try:
                self.write_all(fd, data)
                if durable:
                    self.fsync(fd)
            finally:
                self.close(fd)
            self.replace(tmp, path)
        except Exception:  # a crash (BaseException) leaves the temp file, as a real one would
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        if durable:
            self.fsync_dir(path.parent)
