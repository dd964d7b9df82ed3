"""Small file helpers every writer under the home uses: 0600 files, 0700
folders (SPEC §8), and atomic replacement with fsync of file and folder."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_dir(path: Path) -> Path:
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: Path, *, create_folder: bool = True) -> Iterator[BinaryIO]:
    """A binary stream that becomes ``path`` (mode 0600) only if the block
    finishes: written beside it, fsynced, renamed over it, folder fsynced.
    A crash or an error leaves the old file, or none, never half a file."""
    folder = path.parent if str(path.parent) else Path(".")
    if create_folder:
        ensure_dir(folder)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new file, never half."""
    with atomic_file(path) as fh:
        fh.write(data)
