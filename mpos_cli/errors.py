"""Exit statuses (SPEC §6) and the exceptions that carry them.

Every failure a user can meet is an ``MposError`` subclass, or a reader
layer's ``ReaderError`` (``mpos_cli.drivers.errors``), which
``exit_status_of`` maps onto a status. The CLI has one handler that turns
either into one line on stderr and its exit status; the core never exits
and never prints.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    DECLINED = 3
    CANCELLED = 4
    READER_UNAVAILABLE = 5
    GATEWAY_UNREACHABLE = 6
    OUT_OF_BALANCE = 7
    STATE_UNREADABLE = 8
    INTERRUPTED = 130


class MposError(Exception):
    """Base of every expected failure: a message, an optional hint, a status."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """What was wrong and what to do, on one line (SPEC §9)."""
        return one_line_of(self)


class UsageError(MposError):
    """Bad option, bad amount, unknown currency, unknown id."""

    exit_status = ExitStatus.USAGE


class PaymentDeclined(MposError):
    """The issuer or the card declined. ``transaction`` is the journaled result."""

    exit_status = ExitStatus.DECLINED

    def __init__(self, message: str, *, transaction=None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.transaction = transaction


class PaymentCancelled(MposError):
    """Cancelled or timed out at the reader or by the user."""

    exit_status = ExitStatus.CANCELLED

    def __init__(self, message: str, *, transaction=None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.transaction = transaction


class GatewayError(MposError):
    """Base for acquirer failures."""

    exit_status = ExitStatus.GATEWAY_UNREACHABLE


class GatewayUnreachable(GatewayError):
    """The request certainly did not reach the acquirer (connect refused, DNS)."""


class GatewayOutcomeUnknown(GatewayError):
    """The request may have reached the acquirer but no answer came back.

    Never treat this as a decline and never retry under a new key: recovery
    resolves it by lookup or reversal (SPEC §9).
    """


class GatewayRejected(GatewayError):
    """The acquirer answered but refused the request itself (4xx: bad key, conflict)."""

    exit_status = ExitStatus.ERROR


class OutOfBalance(MposError):
    exit_status = ExitStatus.OUT_OF_BALANCE


class StateUnreadable(MposError):
    """Journal or config unreadable, corrupt or locked: nothing was written."""

    exit_status = ExitStatus.STATE_UNREADABLE


class JournalLocked(StateUnreadable):
    pass


class Interrupted(MposError):
    exit_status = ExitStatus.INTERRUPTED


class PaymentInterrupted(Interrupted):
    """Ctrl-C before the authorisation left: cancelled at the reader, nothing
    charged. ``transaction`` is the journaled sale (None if none was begun)."""

    def __init__(self, message: str, *, transaction=None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.transaction = transaction


def one_line_of(error: BaseException) -> str:
    """``message: hint`` on one line, for an error of any layer that carries
    a message and a hint (``MposError``, the reader layer's ``ReaderError``)."""
    text = str(getattr(error, "message", None) or error).rstrip(".")
    hint = getattr(error, "hint", None)
    if hint:
        text = f"{text}: {hint.rstrip('.')}"
    return " ".join(text.split())


def exit_status_of(error: BaseException) -> ExitStatus:
    """SPEC §6's status for an expected failure of any layer: the core's
    ``MposError`` carries its own; the reader layer's errors
    (``mpos_cli.drivers.errors``) are mapped here."""
    if isinstance(error, MposError):
        return error.exit_status
    from mpos_cli.drivers import errors as reader

    if isinstance(error, (reader.ReaderTimeout, reader.CardRemoved)):
        return ExitStatus.CANCELLED  # cancelled at the reader (exit 4)
    if isinstance(error, reader.ReaderRequestError):
        return ExitStatus.USAGE
    if isinstance(error, reader.ReaderError):
        return ExitStatus.READER_UNAVAILABLE
    return ExitStatus.ERROR
