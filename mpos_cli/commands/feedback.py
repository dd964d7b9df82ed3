"""Progress on stderr while a command works (the rendering of
``mpos_cli.progress`` events).

- stderr is a terminal: one live status line (rich: a spinner, the step,
  its elapsed time or, while the reader waits for the card, the seconds
  left); notices print above it; the line vanishes when the result is
  printed;
- stderr is not a terminal: each step and notice as one plain line, as a
  log would want it;
- ``--quiet``: nothing (errors are not progress: they still go out).

A notice may come from another thread (the "finishing the payment" answer
to a Ctrl-C): everything here holds one lock.
"""

from __future__ import annotations

import threading
import time

from mpos_cli.progress import Event, Finishing, Step


class _StatusLine:
    """A rich renderable that re-reads the step's clock at every refresh."""

    def __init__(self, spinner, step: Step, started: float) -> None:
        self.spinner = spinner
        self.step = step
        self.started = started

    def __rich_console__(self, console, options):
        self.spinner.update(text=self.step.status(time.monotonic() - self.started))
        yield self.spinner.render(console.get_time())


class Feedback:
    def __init__(self, stream, *, terminal: bool, console_factory) -> None:
        self.stream = stream
        self.terminal = terminal
        self.quiet = False
        self._console_factory = console_factory  # the stderr rich console, built on first use
        self._live = None
        self._line: _StatusLine | None = None
        self._lock = threading.RLock()

    def event(self, event: Event) -> None:
        if self.quiet:
            return
        if isinstance(event, str):
            self.notice(event)
            return
        with self._lock:
            if not self.terminal:
                self._write(event.text)
                return
            if isinstance(event, Finishing) and self._live is not None:
                self._live.console.print(event.text, highlight=False, markup=False)  # stays on screen
            if self._live is None:
                self._start(event)
            else:
                self._line.step, self._line.started = event, time.monotonic()
                self._live.refresh()

    def notice(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            if self._live is not None:
                self._live.console.print(text, highlight=False, markup=False)
            else:
                self._write(text)

    def stop(self) -> None:
        """Take the status line away (before a result or an error is printed)."""
        with self._lock:
            live, self._live, self._line = self._live, None, None
            if live is not None:
                live.stop()

    def _start(self, step: Step) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self._line = _StatusLine(Spinner("dots", style="cyan"), step, time.monotonic())
        self._live = Live(self._line, console=self._console_factory(), refresh_per_second=8, transient=True)
        self._live.start()

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
