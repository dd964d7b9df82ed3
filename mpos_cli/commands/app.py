"""The application object every command is handed (hatch style).

``cli.run`` builds one ``App`` per run and passes it through Typer's context
(``ctx.obj``); a command starts with ``app = App.of(ctx)`` and never reaches
for a module global. Tests replace the ``Environment`` (home, clock, streams)
and get a whole, isolated application.

Messages for people go to stderr, data to stdout: ``--json`` prints one JSON
document and nothing else on stdout.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Iterable

import typer

from mpos_cli.env import Environment


def is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class App:
    def __init__(self, env: Environment, *, interrupts=None) -> None:
        from mpos_cli.commands.feedback import Feedback
        from mpos_cli.interrupts import Interrupts

        self.env = env
        self._pos = None
        self.feedback = Feedback(env.stderr, terminal=is_terminal(env.stderr), console_factory=lambda: self.err_console)
        # What Ctrl-C means now (cli.run installs it as the SIGINT handler).
        self.interrupts = interrupts or Interrupts()
        self.interrupts.on_finishing_notice = self._finishing_notice

    @property
    def quiet(self) -> bool:
        """``--quiet``: no progress or notices on stderr; errors still."""
        return self.feedback.quiet

    @quiet.setter
    def quiet(self, value: bool) -> None:
        self.feedback.quiet = bool(value)

    def _finishing_notice(self) -> None:
        from mpos_cli.progress import Finishing

        self.feedback.event(Finishing())

    @classmethod
    def of(cls, ctx: typer.Context) -> "App":
        """The run's application (built by ``cli.run``; a bare Typer
        invocation, e.g. shell completion, gets one for the real environment)."""
        root = ctx.find_root()
        if not isinstance(root.obj, App):
            root.obj = cls(Environment())
        return root.obj

    # -- the point of sale -----------------------------------------------------

    @property
    def pos(self):
        """The journal, the acquirer and the reader, each opened on first use."""
        if self._pos is None:
            from mpos_cli.pos import PointOfSale

            self._pos = PointOfSale(self.env)
        return self._pos

    def recover_briefly(self) -> None:
        """At the start of a command that moves money: resolve what a previous
        run left open and forward the offline queue, briefly (SPEC §9), never
        blocking a sale when the network is down. One read of ``open.idx``
        when nothing is open."""
        from mpos_cli.startup import catch_up

        catch_up(self.pos, self.message)

    def sync_after_payment(self) -> None:
        """After a payment's result is shown: a brief sync with the hub when
        one is configured (SPEC §11). Never raises, never changes the exit
        status; a hub that is away costs at most a few seconds."""
        from mpos_cli.hub.url import hub_configured

        if not hub_configured(self.env):
            return
        from mpos_cli.hub.sync import after_payment

        after_payment(self.env, self.pos.journal, self.message)

    def post_hook(self, name: str, result) -> None:
        """Run a ``post-*`` hook with the payment already journaled and told
        (SPEC §12): its failure is a warning, and Ctrl-C stops the hook,
        never the payment's outcome or the exit status."""
        from mpos_cli import hooks

        with self.interrupts.stoppable():
            hooks.after(self.env, name, result, self.message)

    def close(self) -> None:
        self.feedback.stop()
        pos, self._pos = self._pos, None
        if pos is not None:
            pos.close()

    # -- output ----------------------------------------------------------------

    def _colour_off(self, stream) -> bool:
        return "NO_COLOR" in self.env.environ or not is_terminal(stream)

    @property
    def console(self):
        """Rich console on stdout: human data (tables, receipts). Asking for
        it takes the live status line away first: results come after progress."""
        self.feedback.stop()
        return self._stdout_console

    @cached_property
    def _stdout_console(self):
        from rich.console import Console

        off = self._colour_off(self.env.stdout)
        return Console(file=self.env.stdout, no_color=off, highlight=False, soft_wrap=False,
                       force_terminal=False if off else None)

    @cached_property
    def err_console(self):
        from rich.console import Console

        # NO_COLOR takes the colour away, not the terminal: the status line still moves.
        off = self._colour_off(self.env.stderr)
        return Console(file=self.env.stderr, no_color=off, highlight=False,
                       force_terminal=None if is_terminal(self.env.stderr) else False)

    @property
    def stderr_is_terminal(self) -> bool:
        return is_terminal(self.env.stderr)

    @property
    def stdout_is_terminal(self) -> bool:
        return is_terminal(self.env.stdout)

    def plain_table(self, columns, rows, *, right=frozenset()) -> None:
        """Columns padded with spaces, as rich's box-less table draws them, for
        output that is not a terminal (no rich import, no styling)."""
        self.feedback.stop()
        widths = [max(len(str(c)), *(len(str(row[i])) for row in rows)) for i, c in enumerate(columns)]

        def line(cells) -> str:
            return " ".join(str(cell).rjust(w) if name in right else str(cell).ljust(w)
                            for cell, w, name in zip(cells, widths, columns)).rstrip()

        out = self.env.stdout
        out.write("\n".join([line(columns), *(line(row) for row in rows)]) + "\n")
        out.flush()

    def message(self, text: str) -> None:
        """A notice for people, on stderr (none with --quiet)."""
        self.feedback.notice(text)

    def progress(self, event) -> None:
        """The flows' ``notify``: a ``mpos_cli.progress`` event or a notice."""
        self.feedback.event(event)

    def error_line(self, text: str) -> None:
        self.feedback.stop()
        self.env.stderr.write(f"mpos: error: {text}\n")
        self.env.stderr.flush()

    def result(self, text: str, *, ok: bool = True) -> None:
        """A command's one result line on stdout (colour only on a terminal)."""
        self.console.print(text, style="bold green" if ok else "bold red", markup=False)

    def print_json(self, document: Any) -> None:
        self.feedback.stop()
        self.env.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        self.env.stdout.flush()

    def print_csv(self, header: list[str], rows: Iterable[list]) -> None:
        import csv

        self.feedback.stop()
        writer = csv.writer(self.env.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)

    def print_table(self, columns: Iterable[str], rows: Iterable[Iterable[str]]) -> None:
        """A plain table for people: the header, then one line a row, no borders."""
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def sandbox_banner(self, is_sandbox: bool) -> None:
        if is_sandbox:
            self.message("SANDBOX: test cards and the sandbox acquirer; no real money moves")
