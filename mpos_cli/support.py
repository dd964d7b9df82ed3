"""``mpos support-bundle``: what a helper needs to see, in one tar.gz.

The bundle (mode 0600, written atomically) holds one folder with:

- ``README.txt``: what is inside and what is left out;
- ``versions.json``: mpos, Python, the platform, the libraries, BlueZ;
- ``doctor.json``: ``mpos doctor --json``;
- ``config.json``: every setting and where it comes from, the ``MPOS_*``
  variables set, with secrets and URL passwords redacted;
- ``journal-verify.json``: the full ``mpos journal verify`` report;
- ``transactions.json``: the last ``days`` days' transactions as ``--json``
  shows them (SPEC §5: masked PANs, no card data);
- ``errors.log``: the recent errors (``mpos_cli.errorlog``).

Each part that cannot be made (a corrupt journal, an unreadable config)
says why in its place: a bundle is most wanted when something is broken.
As a last line of defence every part passes through ``errorlog.redact``
(no card-number-like digit runs, no gateway secret) before it is written.
"""

from __future__ import annotations

import io
import json
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from mpos_cli.errors import MposError, UsageError

DEFAULT_DAYS = 7
REDACTED = "[redacted]"
PACKAGES = ("typer", "rich", "bleak", "dbus-fast", "httpx", "tinydb", "platformdirs", "pyemv", "cryptography",
            "keyring", "python-escpos", "segno", "babel", "pycountry")


def default_name(env) -> str:
    from mpos_cli.doctor import now_or_system

    return f"mpos-support-{now_or_system(env).strftime('%Y%m%d-%H%M%S')}.tar.gz"


def build(env, output: Path | None = None, *, days: int = DEFAULT_DAYS, notify: Callable[[str], None] = lambda _: None) -> tuple[Path, list[str]]:
    """Write the bundle; returns its path and the names inside."""
    from mpos_cli.storage_util import atomic_file

    if days < 1:
        raise UsageError("--days must be 1 or more")
    path = Path(output) if output is not None else Path(default_name(env))
    if path.is_dir():
        raise UsageError(f"{path} is a folder", hint="give a file name, e.g. --output mpos-support.tar.gz")
    if not path.parent.is_dir():
        raise UsageError(f"the folder {path.parent} does not exist", hint="create it or choose another --output")
    folder = path.name.removesuffix(".tar.gz").removesuffix(".tgz") or "mpos-support"
    parts = _parts(env, days, notify)
    secret = _secret(env)
    names = []
    now = time.time()
    with atomic_file(path, create_folder=False) as fh:
        with tarfile.open(fileobj=fh, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            for name, data in parts:
                data = _scrub_bytes(data, env, secret)
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o600, now
                tar.addfile(info, io.BytesIO(data))
                names.append(name)
    return path, names


def _parts(env, days: int, notify) -> list[tuple[str, bytes]]:
    notify("Checking everything (mpos doctor)…")
    parts = [
        ("versions.json", _json(versions())),
        ("doctor.json", _json(_guarded(lambda: _doctor(env)))),
        ("config.json", _json(_guarded(lambda: redacted_config(env)))),
    ]
    notify("Verifying the journal…")
    parts.append(("journal-verify.json", _json(_guarded(lambda: _verify(env)))))
    parts.append(("transactions.json", _json(_guarded(lambda: _transactions(env, days)))))
    parts.append(("errors.log", _errors(env)))
    readme = README.format(days=days, names="\n".join(f"  {name}" for name, _ in parts))
    return [("README.txt", readme.encode()), *parts]


README = """mpos support bundle

Made by `mpos support-bundle` to help someone find what is wrong. It holds:
{names}

Transactions are those of the last {days} days, as `mpos journal list --json`
shows them: card numbers masked (first 6 and last 4 digits at most), no
track data, PIN, PIN block, cryptogram key or card data blob. Secrets (the
gateway key, passwords in URLs) are replaced by "[redacted]".
Look inside before you send it: tar -xzf FILE
"""


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def _guarded(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except MposError as exc:
        return {"error": exc.one_line(), "exit_status": int(exc.exit_status)}
    except Exception as exc:  # a bundle is wanted most when something is broken
        return {"error": f"{type(exc).__name__}: {exc}"}


def versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from mpos_cli import __version__

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "mpos": __version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
        "bluez": _bluez_version(),
    }


def _bluez_version() -> str | None:
    program = shutil.which("bluetoothd") or next(
        (p for p in ("/usr/libexec/bluetooth/bluetoothd", "/usr/lib/bluetooth/bluetoothd") if Path(p).exists()), None)
    if program is None:
        return None
    try:
        done = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _doctor(env) -> list[dict[str, str]]:
    from mpos_cli.doctor import diagnose

    return diagnose(env).to_public()


def redacted_config(env) -> dict[str, Any]:
    """Every setting with its value, source and problem (as ``mpos config
    show`` checks them, so a spoilt file shows too), and the ``MPOS_*``
    variables; secrets and URL passwords redacted."""
    from mpos_cli.config import inspect, public

    report = inspect(env.config_path, env.environ)
    settings = [{"key": s.key, "value": redact(s.key, public(s.value)), "source": s.source,
                 "written": redact(s.key, public(s.written)), "problem": s.problem}
                for s in report.settings]
    problems = [{"key": p.key, "source": p.source, "message": p.message, "hint": p.hint} for p in report.problems]
    variables = {name: redact(name, value) for name, value in sorted(env.environ.items()) if name.startswith("MPOS_")}
    return {"path": str(report.path), "settings": settings, "problems": problems, "environment": variables}


def redact(key: str, value: Any) -> Any:
    from mpos_cli.config import SECRET_WORDS

    if any(word in key.lower() for word in SECRET_WORDS):
        return REDACTED if value not in (None, "") else value
    from mpos_cli.config import without_credentials

    return without_credentials(value)  # a URL's user:password@ masked


def _verify(env) -> dict[str, Any]:
    from mpos_cli.journal import Journal

    folder = env.data_dir / "journal"
    if not folder.is_dir():
        return {"note": "no journal yet"}
    with Journal(folder, lock_timeout=_lock_timeout(env)) as journal:
        return journal.verify().to_dict()


def _transactions(env, days: int) -> list[dict[str, Any]]:
    from mpos_cli.journal import Journal

    folder = env.data_dir / "journal"
    if not folder.is_dir():
        return []
    from mpos_cli.doctor import now_or_system

    today = now_or_system(env).date()
    start = (today - timedelta(days=days - 1)).isoformat()
    with Journal(folder, lock_timeout=_lock_timeout(env)) as journal:
        return [tx.to_public() for tx in journal.iter(start, today.isoformat())]


def _lock_timeout(env) -> float:
    """The configured wait for the journal lock, or the default when the config is broken."""
    from mpos_cli.config import SCHEMA

    try:
        return env.config["journal.lock_timeout"]
    except MposError:
        return SCHEMA["journal.lock_timeout"].default


def _errors(env) -> bytes:
    from mpos_cli import errorlog

    chunks = []
    for path in errorlog.paths(env):
        try:
            chunks.append(path.read_bytes())
        except OSError as exc:
            chunks.append(f"(could not read {path.name}: {exc.strerror})\n".encode())
    return b"".join(chunks) or b"(no errors recorded)\n"


def _secret(env) -> str | None:
    try:
        return env.gateway_key
    except MposError:
        return None


def _scrub_bytes(data: bytes, env, secret: str | None) -> bytes:
    from mpos_cli import errorlog

    text = data.decode("utf-8", "replace")
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[secret removed]")
    return errorlog.redact(text, env.environ).encode()

