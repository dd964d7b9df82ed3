"""What Ctrl-C means, moment by moment (SPEC §9).

One rule per stage of a sale:

- before the authorisation leaves (stage ``intent``: connecting, waiting for
  the card, reading it): Ctrl-C cancels at the reader; the sale is journaled
  ``cancelled`` and nothing is charged (exit 130);
- once it has left (stage ``sent`` onwards): Ctrl-C is noted and answered
  with "finishing the payment, please wait"; the flow finishes the payment
  and the command prints its true outcome with its exit code. A second
  Ctrl-C changes nothing.

Outside a payment a Ctrl-C stops the command (``KeyboardInterrupt``, which
the CLI turns into one line and exit 130): every other command is safe to
stop anywhere, as a crash is.

The signal handler never acts on its own: it records the interrupt and lets
the flow decide at its stage boundaries. The only thing it starts is the
cancellation of the asyncio task reading the card (through
``loop.call_soon_threadsafe``, as asyncio's own SIGINT handling does), and
it never writes to a stream (a handler runs between two bytecodes of the
main thread, possibly inside a write to that same stream): the notice is
written by a small thread it wakes.

This module installs nothing: the CLI (``mpos_cli.cli``) installs
``Interrupts.handle`` as the SIGINT handler for the length of a command, so
the core stays usable without it.
"""

from __future__ import annotations

import enum
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


class Mode(enum.Enum):
    STARTING = "starting"  # imports, before the command runs: Ctrl-C is remembered
    STOP = "stop"  # no payment under way: Ctrl-C stops the command
    CANCEL = "cancel"  # a sale before its authorisation left: Ctrl-C cancels it
    FINISH = "finish"  # the authorisation left, or the outcome is known: Ctrl-C is noted


REDELIVERY_DELAY_S = 0.02


def _inside_import(frame) -> bool:
    depth = 0
    while frame is not None and depth < 200:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame, depth = frame.f_back, depth + 1
    return False


def _redeliver_soon() -> None:
    import signal

    main = threading.main_thread().ident
    timer = threading.Timer(REDELIVERY_DELAY_S, signal.pthread_kill, args=(main, signal.SIGINT))
    timer.daemon = True
    timer.start()


class Interrupts:
    def __init__(self, on_finishing_notice: Callable[[], None] | None = None, *, mode: Mode = Mode.STOP) -> None:
        self.mode = mode
        self.early = 0  # Ctrl-Cs while starting
        self.stopped = False  # a Ctrl-C stopped the command
        self.cancel_requests = 0  # Ctrl-Cs while the sale could still be cancelled
        self.noted = 0  # Ctrl-Cs while finishing
        self.on_finishing_notice = on_finishing_notice
        self._reading: tuple[object, object] | None = None  # (loop, task) while the card is read
        self._wake = threading.Event()
        self._notices_sent = 0
        self._watcher: threading.Thread | None = None

    # -- the signal handler ----------------------------------------------------

    def handle(self, signum=None, frame=None) -> None:
        """SIGINT. Runs in the main thread between two bytecodes: it only
        records, wakes the notice thread, or asks the loop to cancel the card
        read."""
        if self.mode is Mode.STARTING:
            self.early += 1
            return
        if self.mode is Mode.STOP:
            if _inside_import(frame):
                # A KeyboardInterrupt raised in the import machinery can be
                # swallowed ("Exception ignored in ... _get_module_lock"),
                # and the command would go on. Deliver it again a moment later.
                _redeliver_soon()
                return
            self.stopped = True
            raise KeyboardInterrupt
        if self.mode is Mode.CANCEL:
            self.cancel_requests += 1
            reading = self._reading
            if reading is not None:
                loop, task = reading
                try:
                    loop.call_soon_threadsafe(self._cancel_read, task)
                except RuntimeError:
                    pass  # the loop has closed: the flow sees cancel_requests at its next boundary
            return
        self.noted += 1
        self._wake.set()

    # -- what the flows ask ------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requests > 0

    def sale_started(self) -> None:
        """A sale's intent is about to be journaled: Ctrl-C now cancels it."""
        self.mode = Mode.CANCEL

    def authorisation_leaving(self) -> bool:
        """The flow is about to journal ``sent``: from here Ctrl-C is only
        noted. Returns True when a Ctrl-C came before this point (the sale
        must be cancelled instead). The mode switches first, so a Ctrl-C is
        counted on exactly one side of the boundary."""
        self.finishing()
        return self.cancel_requests > 0

    def finishing(self) -> None:
        """From here Ctrl-C is noted and answered, never acted upon."""
        if self.mode is not Mode.FINISH:
            self._start_watcher()
            self.mode = Mode.FINISH

    @contextmanager
    def stoppable(self) -> Iterator[None]:
        """Work that Ctrl-C may stop without touching the command's outcome (a
        post-hook after the payment was told): inside, Ctrl-C raises
        KeyboardInterrupt as in ``STOP``; it never leaves this block, and the
        mode before it comes back."""
        previous = self.mode
        self.mode = Mode.STOP
        try:
            yield
        except KeyboardInterrupt:
            pass
        finally:
            self.mode = previous
            self.stopped = False

    def started(self) -> None:
        """The command starts: Ctrl-C stops it from here, and one pressed
        while starting stops it now."""
        self.mode = Mode.STOP
        if self.early:
            self.stopped = True
            raise KeyboardInterrupt

    def stopping(self) -> None:
        """Back to: Ctrl-C stops the command (no payment under way)."""
        self.mode = Mode.STOP

    def closing(self) -> None:
        """The command's outcome is known (printed or about to be): Ctrl-C
        from here changes nothing and says nothing."""
        self.on_finishing_notice = None
        self.mode = Mode.FINISH

    @contextmanager
    def reading_card(self, loop, task) -> Iterator[None]:
        """While the card is read, a Ctrl-C cancels ``task`` (at its next
        await). A Ctrl-C that came just before is acted on at once."""
        self._reading = (loop, task)
        try:
            if self.cancel_requests and self.mode is Mode.CANCEL:
                loop.call_soon(self._cancel_read, task)
            yield
        finally:
            self._reading = None

    def _cancel_read(self, task) -> None:
        if self._reading is not None and self._reading[1] is task and not task.done() and not task.cancelling():
            task.cancel()

    # -- the notice, written by a thread of its own ----------------------------------

    def _start_watcher(self) -> None:
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="mpos-interrupt-notice", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            notice = self.on_finishing_notice
            if self.noted > self._notices_sent and notice is not None:
                self._notices_sent = self.noted
                try:
                    notice()
                except Exception:  # a notice must never break the payment
                    pass
