"""mpos sync: this terminal's journal to the hub, the other terminals' back (SPEC §11)."""

from __future__ import annotations

import typer

from mpos_cli.commands import options


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)


def sync(ctx: typer.Context, json_: options.Json = False) -> None:
    """Send this terminal's journal changes to the hub and fetch the other terminals'."""
    from mpos_cli.commands.app import App
    from mpos_cli.hub.remote import HubError
    from mpos_cli.hub.sync import Sync

    app = App.of(ctx)
    report = Sync(app.env, app.pos.journal, app.message).run()
    if json_:
        app.print_json(report.to_public())
    else:
        _render(app, report)
    if report.problem:
        raise HubError(report.problem,
                       hint=report.hint or "this terminal keeps working alone; mpos sync resumes where it stopped")


def _render(app, report) -> None:
    out = app.console.print
    if report.reachable:
        out(f"Hub {report.hub}: sent {report.pushed} transaction versions ({report.changed} new to the hub), "
            f"received {report.pulled} in {report.seconds:.1f} s")
    else:
        out(f"Hub {report.hub}: not reached")
    if report.waiting:
        out(f"This terminal ({report.terminal_id}): {report.waiting} journal changes not yet at the hub")
    else:
        out(f"This terminal ({report.terminal_id}): up to date at the hub")
    for other in report.others:
        state = "up to date" if other.behind == 0 else f"{other.behind} changes behind"
        pushed = f", last sent to the hub {other.pushed_at[:16].replace('T', ' ')}" if other.pushed_at else ""
        out(f"Terminal {other.terminal_id}: {state} here{pushed}")
    if report.copy_as_of is not None:
        out(f"Other terminals as of {report.copy_as_of:%Y-%m-%d %H:%M:%S}")
    elif not report.others:
        out("No other terminal has sent anything yet")
