"""What every command shares: the environment, the point of sale, output.

Messages go to stderr, data to stdout (hatch style). ``--json`` prints one
JSON document and nothing else on stdout.
"""

from __future__ import annotations

import json
from typing import Any

_state: dict[str, Any] = {}


def set_environment(env) -> None:
    _state.clear()
    _state["env"] = env


def env():
    if "env" not in _state:
        from mpos_cli.env import Environment

        _state["env"] = Environment()
    return _state["env"]


def pos():
    if "pos" not in _state:
        from mpos_cli.pos import PointOfSale

        _state["pos"] = PointOfSale(env())
    return _state["pos"]


def close_pos() -> None:
    pos_ = _state.pop("pos", None)
    if pos_ is not None:
        pos_.close()


def _color_off() -> bool:
    e = env()
    return "NO_COLOR" in e.environ or not _isatty(e.stdout)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console():
    """Rich console on stdout: for human data (tables, receipts)."""
    if "console" not in _state:
        from rich.console import Console

        e = env()
        _state["console"] = Console(
            file=e.stdout, no_color=_color_off(), highlight=False, soft_wrap=False,
            force_terminal=False if _color_off() else None,
        )
    return _state["console"]


def err_console():
    if "err_console" not in _state:
        from rich.console import Console

        e = env()
        off = "NO_COLOR" in e.environ or not _isatty(e.stderr)
        _state["err_console"] = Console(file=e.stderr, no_color=off, highlight=False, force_terminal=False if off else None)
    return _state["err_console"]


def message(text: str) -> None:
    """A progress or status line for people, on stderr."""
    env().stderr.write(text + "\n")
    env().stderr.flush()


def error_line(text: str) -> None:
    env().stderr.write(f"mpos: error: {text}\n")
    env().stderr.flush()


def print_json(document: Any) -> None:
    out = env().stdout
    out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    out.flush()


def print_csv(header: list[str], rows) -> None:
    import csv

    writer = csv.writer(env().stdout, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)


def sandbox_banner(is_sandbox: bool) -> None:
    if is_sandbox:
        message("SANDBOX: test cards and the sandbox acquirer; no real money moves")


def startup_recovery(pos_, notify=message) -> None:
    """At the start of a command: resolve what a previous run left open and
    forward the offline queue, briefly (a few seconds' timeout, one attempt,
    stopping at the first sign of a dead network), never blocking a sale when
    the network is down (SPEC §9). Costs one read of ``open.idx`` when
    nothing is open."""
    if not pos_.journal.open_transactions():
        return
    from mpos_cli.recovery import brief_pass

    brief_pass(pos_, notify)
