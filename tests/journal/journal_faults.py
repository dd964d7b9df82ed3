"""Test doubles for the journal's file layer (``mpos_cli.journal.fileops``).

``FaultyOps`` counts the journal's mutating system calls (write, pwrite,
fsync, rename, unlink, folder fsync, file creation) and at the Nth one either raises
an ``OSError`` (EIO, the disk failing) or *dies*: raises ``SimulatedCrash``
(a ``BaseException`` nothing in the journal catches), after which every call
fails, as if the process were gone; ``kill()`` then closes the descriptors,
as the kernel would, releasing the lock. A write that fails or dies first
writes a prefix of its data (a torn write).

Mode ``power`` cuts the power instead, at the Nth operation (which does not
happen): data written since the file's last ``fsync`` is lost (all of it, or
all but a prefix of it: ``partial``), and every file creation, rename and
unlink since its folder's last fsync is undone. Overwrites in place
(``pwrite``, as the high-water mark and the lock's holder line are written)
since the file's last fsync are undone too, all of them, or (``partial``)
all but that share of them, the next one torn part way. Then the process is
dead. This is what proves where the journal must fsync, and that a mark
written without fsync can be lost but never get ahead of the log.

``CountingOps`` records which files were opened and read, to prove what a
read touched.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from datetime import datetime, timezone

import pytest

from mpos_cli.errors import ExitStatus, StateUnreadable
from mpos_cli.journal.fileops import FileOps
from mpos_cli.transaction import Stage, Transaction, TxStatus, TxType, new_transaction_id

MUTATING = ("write", "pwrite", "fsync", "replace", "unlink", "fsync_dir", "create")


class SimulatedCrash(BaseException):
    pass


class FaultyOps(FileOps):
    def __init__(self, fail_at: int | None = None, *, mode: str = "die", partial: float = 0.5, kinds=MUTATING):
        self.fail_at = fail_at
        self.mode = mode
        self.partial = partial
        self.kinds = kinds
        self.count = 0
        self.fired = False
        self.dead = False
        self.fds: set[int] = set()
        self.log: list[str] = []
        # for power cuts: what the disk really holds
        self.path_of: dict[int, str] = {}
        self.synced: dict[str, int] = {}  # path -> bytes durable
        self.dirty: set[str] = set()
        self.pending: list[tuple] = []  # directory changes not yet fsynced
        self.before_overwrite: dict[str, bytes] = {}  # path -> its bytes at the first pwrite since fsync
        self.overwrites: dict[str, list[tuple[int, bytes]]] = {}  # path -> pwrites since fsync

    def _alive(self) -> None:
        if self.dead:
            raise SimulatedCrash("the process is dead")

    def _hit(self, kind: str, what: str = "") -> bool:
        self._alive()
        if kind not in self.kinds:
            return False
        self.count += 1
        self.log.append(f"{self.count}:{kind}:{what}")
        return self.fail_at is not None and self.count == self.fail_at and not self.fired

    def _fault(self, kind: str) -> None:
        self.fired = True
        if self.mode == "power":
            self._power_cut()
            self.dead = True
            raise SimulatedCrash(f"power cut at {kind} #{self.count}")
        if self.mode == "die":
            self.dead = True
            raise SimulatedCrash(f"died at {kind} #{self.count}")
        raise OSError(errno.EIO, f"injected I/O error at {kind} #{self.count}")

    def _track(self, path: str) -> None:
        if path not in self.synced:
            self.synced[path] = os.path.getsize(path) if os.path.exists(path) else 0

    def _power_cut(self) -> None:
        for path, durable in self.before_overwrite.items():
            if not os.path.exists(path):
                continue
            content = bytearray(durable)
            writes = self.overwrites.get(path, [])
            kept = int(len(writes) * self.partial)
            for i, (offset, data) in enumerate(writes[: kept + 1]):
                if i == kept:  # the first one lost: torn part way (nothing of it when partial is 0)
                    data = data[: int(len(data) * self.partial)]
                if len(content) < offset:
                    content.extend(b"\0" * (offset - len(content)))
                content[offset : offset + len(data)] = data
            with open(path, "wb") as fh:
                fh.write(bytes(content))
        for path in self.dirty:
            if os.path.exists(path):
                size = os.path.getsize(path)
                durable = min(self.synced.get(path, 0), size)
                keep = durable + int((size - durable) * self.partial)
                os.truncate(path, keep)
        for change in reversed(self.pending):
            kind, _folder, *args = change
            if kind == "create":
                if os.path.exists(args[0]):
                    os.unlink(args[0])
            elif kind == "rename":
                src, dst, old = args
                if os.path.exists(dst):
                    os.replace(dst, src)
                if old is not None:
                    with open(dst, "wb") as fh:
                        fh.write(old)
            elif kind == "unlink":
                path, data = args
                with open(path, "wb") as fh:
                    fh.write(data)

    def kill(self) -> None:
        """What the kernel does when the process dies: close its files."""
        self.dead = True
        for fd in list(self.fds):
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()

    # descriptors
    def open(self, path, flags, mode=0o600):
        path = str(path)
        created = bool(flags & os.O_CREAT) and not os.path.exists(path)
        if created:
            if self._hit("create", os.path.basename(path)):
                self._fault("create")
        else:
            self._alive()
        if flags & (os.O_WRONLY | os.O_RDWR):
            self._track(path)
        fd = super().open(path, flags, mode)
        self.fds.add(fd)
        self.path_of[fd] = path
        if created:
            self.synced[path] = 0
            self.pending.append(("create", os.path.dirname(path), path))
        if flags & os.O_TRUNC:
            self.dirty.add(path)
        return fd

    def close(self, fd):
        self._alive()
        self.fds.discard(fd)
        self.path_of.pop(fd, None)
        super().close(fd)

    def write(self, fd, data):
        if self._hit("write", str(len(data))):
            cut = int(len(data) * self.partial)
            if cut:
                os.write(fd, bytes(data[:cut]))
            self._fault("write")
        self.dirty.add(self.path_of[fd])
        return super().write(fd, data)

    def fsync(self, fd):
        if self._hit("fsync"):
            self._fault("fsync")
        super().fsync(fd)
        path = self.path_of[fd]
        self.synced[path] = os.fstat(fd).st_size
        self.dirty.discard(path)
        self.before_overwrite.pop(path, None)
        self.overwrites.pop(path, None)

    def fsync_dir(self, path):
        if self._hit("fsync_dir"):
            self._fault("fsync_dir")
        super().fsync_dir(path)
        folder = os.path.normpath(str(path))
        self.pending = [c for c in self.pending if os.path.normpath(c[1]) != folder]

    def replace(self, src, dst):
        src, dst = str(src), str(dst)
        if self._hit("replace", os.path.basename(dst)):
            self._fault("replace")
        old = open(dst, "rb").read() if os.path.exists(dst) else None
        super().replace(src, dst)
        self.pending.append(("rename", os.path.dirname(dst), src, dst, old))
        for table in (self.synced,):
            if src in table:
                table[dst] = table.pop(src)
        if src in self.dirty:
            self.dirty.discard(src)
            self.dirty.add(dst)
        for fd, p in self.path_of.items():
            if p == src:
                self.path_of[fd] = dst

    def unlink(self, path):
        path = str(path)
        if self._hit("unlink", os.path.basename(path)):
            self._fault("unlink")
        data = open(path, "rb").read()
        super().unlink(path)
        self.pending.append(("unlink", os.path.dirname(path), path, data))

    def pwrite(self, fd, data, offset):
        self._alive()
        path = self.path_of[fd]
        if path not in self.before_overwrite:
            with open(path, "rb") as fh:
                self.before_overwrite[path] = fh.read()
        # The lock's holder line is a courtesy (its failure is ignored): not
        # counted, so the faults land on the journal's own files.
        if os.path.basename(path) != "LOCK" and self._hit("pwrite", os.path.basename(path)):
            cut = int(len(data) * self.partial)
            if cut:
                os.pwrite(fd, bytes(data[:cut]), offset)
            self.overwrites.setdefault(path, []).append((offset, bytes(data[:cut])))
            self._fault("pwrite")
        self.overwrites.setdefault(path, []).append((offset, bytes(data)))
        return super().pwrite(fd, data, offset)

    # everything else only needs the process to be alive

    def pread(self, fd, size, offset):
        self._alive()
        return super().pread(fd, size, offset)

    def fstat(self, fd):
        self._alive()
        return super().fstat(fd)

    def flock(self, fd, operation):
        self._alive()
        super().flock(fd, operation)

    def stat(self, path):
        self._alive()
        return super().stat(path)

    def listdir(self, path):
        self._alive()
        return super().listdir(path)

    def mkdir(self, path):
        self._alive()
        super().mkdir(path)


class CountingOps(FileOps):
    def __init__(self) -> None:
        self.opened: list[str] = []
        self.reads: list[tuple[str, int, int | None]] = []
        self.calls: Counter[str] = Counter()

    def open(self, path, flags, mode=0o600):
        self.opened.append(os.path.basename(path))
        return super().open(path, flags, mode)

    def read_range(self, path, start, end=None):
        self.reads.append((os.path.basename(path), start, end))
        return super().read_range(path, start, end)

    def fsync(self, fd):
        self.calls["fsync"] += 1
        super().fsync(fd)

    def write(self, fd, data):
        self.calls["write"] += 1
        return super().write(fd, data)

    def reset(self) -> None:
        self.opened.clear()
        self.reads.clear()
        self.calls.clear()


NOW = datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)


def sale(date: str = "2026-11-24", status: TxStatus = TxStatus.PENDING, stage: Stage = Stage.INTENT, **changes):
    fields = dict(
        id=new_transaction_id(date),
        type=TxType.SALE,
        status=status,
        stage=stage,
        amount_minor=1250,
        tip_minor=100,
        currency="EUR",
        created_at=NOW,
        updated_at=NOW,
        business_date=date,
        sandbox=True,
    )
    fields.update(changes)
    return Transaction(**fields)


def follow_up(original: Transaction, kind: TxType, amount: int, date: str = "2026-11-24", **changes):
    """A refund or void of ``original`` as the payment flow journals it, on business day ``date``."""
    tx = original.follow_up(kind, amount, tx_id=new_transaction_id(date), at=NOW)
    return tx.with_changes(**{"business_date": date, **changes})


def assert_every_access_refused(journal, *, get_id: str, find_id: str, update: Transaction, says: str) -> None:
    """Every read and every write of ``journal`` is refused with exit 8, in
    one line naming the month (2026-11) and saying ``says``."""
    for attempt in (
        lambda: journal.get(get_id),
        lambda: journal.find(find_id),
        lambda: list(journal.iter()),
        lambda: journal.open_transactions(),
        lambda: journal.add(sale()),
        lambda: journal.update(update),
        lambda: journal.add_many([sale()]),
        lambda: journal.compact(),
    ):
        with pytest.raises(StateUnreadable) as info:
            attempt()
        assert info.value.exit_status == ExitStatus.STATE_UNREADABLE
        assert "2026-11" in info.value.one_line() and says in info.value.one_line()
