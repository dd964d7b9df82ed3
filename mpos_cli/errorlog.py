"""A small log of the errors mpos reported, for ``mpos support-bundle``.

``$MPOS_HOME/log/errors.log``: one line per error, ``TIME exit=N [COMMAND]
MESSAGE``, appended by the CLI's error handler for every error but those
whose promise is that nothing is written (SPEC §6, §9): usage errors (exit
2, rejected input) and unreadable, corrupt or locked state (exit 8; doctor
and the support bundle's journal report say what is wrong there). At ``MAX_BYTES`` it is
renamed to ``errors.log.1`` (the one older generation kept) and a new one
begun, so the two never hold more than about 128 KiB.

Written by hand rather than with ``logging.handlers.RotatingFileHandler``,
because that one creates its files with the process umask and the home's
files must be 0600 (SPEC §8). The line holds no argument the user typed
(only the command's name) and passes through ``scrub``, so a card number
typed by mistake or the gateway secret never reaches the disk. Writing the
log never fails a command: any error while writing is ignored.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from mpos_cli.storage_util import FILE_MODE, ensure_dir

MAX_BYTES = 64 * 1024
FILE_NAME = "errors.log"
NOTHING_WRITTEN = (2, 8)  # exit statuses that promise nothing is written
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")  # 13-19 digits, maybe spaced
_COMMAND_WORD = re.compile(r"^[a-z][a-z-]{1,30}$")


def log_dir(env) -> Path:
    return env.data_dir / "log"


def paths(env) -> list[Path]:
    """The log's files, oldest first (those that exist)."""
    folder = log_dir(env)
    return [p for p in (folder / f"{FILE_NAME}.1", folder / FILE_NAME) if p.is_file()]


def redact(text: str, environ: dict[str, str]) -> str:
    """``text`` without anything that looks like a card number, nor the secret."""
    text = _DIGIT_RUN.sub("[digits removed]", text)
    secret = environ.get("MPOS_GATEWAY_KEY")
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[secret removed]")
    return text


def scrub(text: str, environ: dict[str, str]) -> str:
    """``redact``, on one line."""
    return " ".join(redact(text, environ).split())


def command_of(argv: list[str] | None) -> str:
    """The command's name from ``argv`` (``journal list``), never its arguments."""
    words = []
    for word in argv or []:
        if len(words) == 2 or not _COMMAND_WORD.match(word):
            break
        words.append(word)
    return " ".join(words) or "-"


def record(env, argv: list[str] | None, message: str, exit_status: int) -> None:
    """Append one error line; never raises. Exits 2 and 8 are not logged:
    they promise that nothing is written."""
    if int(exit_status) in NOTHING_WRITTEN:
        return
    try:
        folder = log_dir(env)
        ensure_dir(env.data_dir)
        ensure_dir(folder)
        path = folder / FILE_NAME
        try:
            if path.stat().st_size >= MAX_BYTES:
                os.replace(path, folder / f"{FILE_NAME}.1")
        except FileNotFoundError:
            pass
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        line = f"{stamp} exit={int(exit_status)} [{command_of(argv)}] {scrub(message, env.environ)}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(fd, line.encode("utf-8", "replace"))  # one write: lines from several processes never mix
        finally:
            os.close(fd)
    except Exception:  # the error being reported matters more than its log line
        pass

