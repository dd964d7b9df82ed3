"""A real PostgreSQL server for the tests: Debian's postgresql package,
``initdb`` and ``pg_ctl`` in a temporary folder, listening on a loopback
port (password auth, SCRAM) and a private socket folder (trust, for the
administrator). Run as root, the server runs as the ``postgres`` user the
package creates (initdb refuses root), else as ``nobody``.

The binaries live in ``/usr/lib/postgresql/NN/bin`` (not on PATH on
Debian); the newest installed version is taken, else whatever is on PATH.
tests/run.sh installs the package.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROLE, PASSWORD = "mpos", "hub-pass-4f1e"


def find_binaries() -> Path | None:
    def version(path: Path) -> tuple:
        return tuple(int(part) if part.isdigit() else 0 for part in path.parts[-3].split("."))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, binaries: Path) -> None:
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="mpos-hub-pg-"))  # short: a socket path has a length limit
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            for name in ("postgres", "nobody"):
                try:
                    owner = pwd.getpwnam(name)
                except KeyError:
                    continue
                os.chown(self.folder, owner.pw_uid, owner.pw_gid)
                self.as_user = ["runuser", "-u", name, "--"]
                break
        self.folder.chmod(0o755)

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, text=True)

    def init(self) -> "PostgresServer":
        pwfile = self.folder / "pw"
        pwfile.write_text("admin\n")
        if self.as_user:
            shutil.chown(pwfile, user=self.as_user[2])
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
                  f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C")
        pwfile.unlink()
        return self

    def start(self) -> "PostgresServer":
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.folder / "log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60", "start")
        return self

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       capture_output=True)

    def destroy(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def running(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def admin(self):
        """A superuser connection over the private socket (autocommit)."""
        import psycopg

        return psycopg.connect(host=str(self.folder), port=self.port, user="postgres", dbname="postgres",
                               autocommit=True)

    def setup_role(self) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")

    def new_database(self) -> str:
        """A fresh, empty hub database owned by the mpos role; its URL
        (with the password, as MPOS_HUB_URL may carry it)."""
        name = f"hub_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        return f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def wait_until_up(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.running:
            if time.monotonic() > deadline:
                raise AssertionError("PostgreSQL did not come back")
            time.sleep(0.05)
