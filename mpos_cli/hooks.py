"""Hooks: the trader's own executables, run at four moments (SPEC §12).

``$MPOS_HOME/hooks/NAME`` (the config folder when ``MPOS_HOME`` is unset),
for NAME in ``HOOK_NAMES``, gets one JSON document on stdin:

- ``pre-charge``: the request (amounts, currency, items, note) before the
  reader is asked. A non-zero exit, a time-out or a hook that cannot be
  started refuses the sale: ``HookRefused`` (exit 2) with the hook's first
  stderr line; nothing is charged and nothing is journaled.
- ``post-charge``, ``post-refund`` (refunds and voids), ``post-settle``:
  the result, in the ``--json`` shape (SPEC §5), after it is journaled.
  Their failure is reported through ``notify`` and changes nothing.

A hook runs in its own process group, with ``MPOS_HOOK`` naming the moment
and without ``MPOS_GATEWAY_KEY`` in its environment (a hook never needs the
acquirer's secret). It has ``timeout_s()`` seconds (``DEFAULT_TIMEOUT_S``);
then its whole group is terminated, and killed if it lingers. Its stdout is
discarded; of its stderr, the first line is kept for the message.
A file in the folder without an execute bit is skipped with a notice, as
git does with its hooks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mpos_cli.errors import UsageError

HOOK_NAMES = ("pre-charge", "post-charge", "post-refund", "post-settle")
DEFAULT_TIMEOUT_S = 10.0
# For tests only: a lower limit, so that a hanging hook costs a second, not ten.
TIMEOUT_VARIABLE = "MPOS_HOOK_TIMEOUT"
KILL_GRACE_S = 1.0  # after SIGTERM to the group, before SIGKILL
STDERR_KEPT = 64 * 1024
SECRET_VARIABLES = ("MPOS_GATEWAY_KEY",)

Notify = Callable[[str], None]


class HookRefused(UsageError):
    """A ``pre-charge`` hook said no (exit 2): nothing was charged or journaled."""


@dataclass(frozen=True)
class HookRun:
    name: str
    path: Path
    exit_code: int | None  # None: it could not start, or was killed at the time limit
    timed_out: bool
    seconds: float  # measured, a time-out's grace period included
    first_stderr_line: str
    limit_s: float = DEFAULT_TIMEOUT_S
    start_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        """Why it did not succeed, in a few words."""
        if self.start_error:
            return f"could not be started ({self.start_error})"
        if self.timed_out:
            return f"did not finish within {self.limit_s:g} s and was stopped"
        if self.exit_code is not None and self.exit_code < 0:
            return f"was killed by signal {-self.exit_code}"
        return f"exited with status {self.exit_code}"


def hooks_dir(env) -> Path:
    return env.config_dir / "hooks"


def timeout_s(environ: dict[str, str]) -> float:
    raw = environ.get(TIMEOUT_VARIABLE, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if 0 < value <= DEFAULT_TIMEOUT_S else DEFAULT_TIMEOUT_S


def find(env, name: str, notify: Notify | None = None) -> Path | None:
    """The executable for hook ``name``, or None (absent, or not executable)."""
    if name not in HOOK_NAMES:
        raise ValueError(f"unknown hook {name!r}")
    path = hooks_dir(env) / name
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not path.is_file():
        return None
    if not mode & 0o111:  # os.access(X_OK) says yes to root for any file with one x bit; read the bits
        if notify is not None:
            notify(f"hook {path} is not executable and was skipped (chmod +x it to use it)")
        return None
    return path


def run(env, name: str, document: Any, notify: Notify | None = None) -> HookRun | None:
    """Run hook ``name`` with ``document`` as JSON on stdin; None when there is no hook."""
    path = find(env, name, notify)
    if path is None:
        return None
    data = (json.dumps(document, ensure_ascii=False) + "\n").encode()
    environ = {k: v for k, v in env.environ.items() if k not in SECRET_VARIABLES}
    environ["MPOS_HOOK"] = name  # MPOS_HOME passes through as it is, so mpos run by the hook sees the same home
    limit = timeout_s(env.environ)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [str(path)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=environ, start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        return HookRun(name, path, None, False, 0.0, "", limit, start_error=exc.strerror or str(exc))
    # Threads feed stdin and drain stderr, so a hook that reads nothing, or a
    # child it leaves behind holding the pipe, can never block mpos.
    stderr = bytearray()
    feeder = threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True)
    drainer = threading.Thread(target=_drain, args=(proc.stderr, stderr), daemon=True)
    feeder.start()
    drainer.start()
    timed_out = False
    try:
        code: int | None = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop_group(proc)
        code = None
    except KeyboardInterrupt:  # its own session gets no Ctrl-C from the terminal: stop it here
        _stop_group(proc)
        raise
    drainer.join(timeout=0.2)
    seconds = time.monotonic() - started
    first = bytes(stderr).decode("utf-8", "replace").strip().splitlines()
    line = " ".join(first[0].split())[:300] if first else ""
    return HookRun(name, path, code, timed_out, seconds, line, limit)


def _feed(stream, data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the hook did not read its stdin: its business


def _drain(stream, into: bytearray) -> None:
    try:
        while chunk := stream.read1(65536):
            if len(into) < STDERR_KEPT:
                into.extend(chunk[: STDERR_KEPT - len(into)])
    except (OSError, ValueError):
        pass


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the hook's process group, SIGKILL after a grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:
                # The leader is gone; anything it started in its group goes too.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            return
        except subprocess.TimeoutExpired:
            continue


# -- the four moments -------------------------------------------------------------------------------------


def sale_request_document(request, env, method: str = "card") -> dict[str, Any]:
    """What ``pre-charge`` sees: the sale as asked, before any card is read
    (or any QR code shown)."""
    items = [_item(item) for item in getattr(request, "items", None) or ()]
    cur = request.currency
    return {
        "amount_minor": request.amount_minor,
        "tip_minor": request.tip_minor,
        "total_minor": request.amount_minor + request.tip_minor,
        "currency": getattr(cur, "code", cur),
        "items": items,
        "note": getattr(request, "note", None),
        "method": method,
        "terminal_id": env.config["terminal.id"],
    }


def _item(item) -> dict[str, Any]:
    get = item.get if isinstance(item, dict) else lambda key, default=None: getattr(item, key, default)
    return {"name": get("name"), "quantity": get("quantity", 1), "unit_minor": get("unit_minor")}


def pre_charge(env, request, notify: Notify | None = None, *, method: str = "card") -> None:
    """Ask the ``pre-charge`` hook; raises ``HookRefused`` when it says no."""
    result = run(env, "pre-charge", sale_request_document(request, env, method), notify)
    if result is None or result.ok:
        return
    said = result.first_stderr_line
    if result.exit_code is not None and result.exit_code > 0:
        reason = said or f"it {result.describe()}"
    else:  # timed out, killed or not startable: a refusal too, never a silent yes
        reason = f"it {result.describe()}" + (f" ({said})" if said else "")
    raise HookRefused(f"refused by the pre-charge hook: {reason}", hint="nothing was charged")


def after(env, name: str, result: Any, notify: Notify) -> HookRun | None:
    """Run a ``post-*`` hook with a result (anything with ``to_public()``, or
    a JSON-ready value). Never raises: a failure is reported through
    ``notify`` and changes nothing."""
    try:
        document = result.to_public() if hasattr(result, "to_public") else result
        run_result = run(env, name, document, notify)
    except KeyboardInterrupt:  # the payment is done and told: Ctrl-C only stops the hook (SPEC §9)
        notify(f"warning: hook {name} was interrupted and stopped; the payment is unaffected")
        return None
    except Exception as exc:  # a post-hook can never change a payment's outcome
        notify(f"warning: hook {name} could not run ({type(exc).__name__}: {exc}); the payment is unaffected")
        return None
    if run_result is not None and not run_result.ok:
        said = f": {run_result.first_stderr_line}" if run_result.first_stderr_line else ""
        notify(f"warning: hook {name} {run_result.describe()}{said}; the payment is unaffected")
    return run_result
