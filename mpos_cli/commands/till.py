"""mpos till: the full-screen till, sale after sale (mpos_cli.till)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("till")(till)


def till(ctx: typer.Context) -> None:
    """Open the full-screen till: quick keys, a basket, card payments one after another."""
    from mpos_cli.commands.app import App, is_terminal
    from mpos_cli.errors import UsageError

    app = App.of(ctx)
    env = app.env
    if not (is_terminal(env.stdin) and is_terminal(env.stdout)):
        raise UsageError("mpos till needs a terminal", hint="run it in a terminal; for scripts use mpos charge --item")
    env.config  # a bad config.toml stops here (exit 8), before the screen is taken over
    from mpos_cli.till.app import run_till

    code = run_till(env)
    if code:
        raise typer.Exit(code)
