"""Durations set by environment variables (``MPOS_SANDBOX_HOLD_SECONDS``,
``MPOS_SANDBOX_IDLE_SECONDS``, ``MPOS_SIM_CUSTOMER_SECONDS``): read and
refused alike. Standard library only, nothing imported up front: the
background sandbox's start-up reads one too."""

from __future__ import annotations

from collections.abc import Mapping


def seconds_from_env(environ: Mapping[str, str], name: str, *, default: float, most: float,
                     zero_allowed: bool = True) -> float:
    """``environ[name]`` as seconds, ``default`` when it is unset or empty.

    Anything but a number from 0 (above 0 unless ``zero_allowed``) to
    ``most`` is a ``UsageError`` (exit 2) naming the variable."""
    raw = environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 <= value if zero_allowed else 0 < value) or value > most:
        from mpos_cli.errors import UsageError

        least = 0 if zero_allowed else 1
        raise UsageError(f"{name}={raw!r} is not a number of seconds", hint=f"use a number from {least} to {most:g}")
    return value
