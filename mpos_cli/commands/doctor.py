"""mpos doctor / mpos support-bundle: say what is wrong, and pack it up for a helper."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mpos_cli.commands import options

STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.command("support-bundle")(support_bundle)


def doctor(ctx: typer.Context, json_: options.Json = False) -> None:
    """Check the home, journal, config, clock, reader, acquirer and hub; say what to do."""
    from mpos_cli.commands.app import App
    from mpos_cli.doctor import ChecksFailed, diagnose

    app = App.of(ctx)
    diagnosis = diagnose(app.env)
    if json_:
        app.print_json(diagnosis.to_public())
    else:
        from rich.text import Text

        width = max(len(c.check) for c in diagnosis.checks)
        for check in diagnosis.checks:
            line = Text(f"{check.status:<5}", style=STYLES[check.status])
            line.append(f" {check.check:<{width}}  {check.detail}")
            app.console.print(line, soft_wrap=True)
    if diagnosis.failed:
        raise ChecksFailed(diagnosis)


def support_bundle(
    ctx: typer.Context,
    output: Optional[Path] = typer.Option(
        None, "--output", metavar="FILE", help="Where to write the tar.gz (default mpos-support-DATE-TIME.tar.gz here)."
    ),
    days: int = typer.Option(7, "--days", min=1, help="Include the transactions of this many days (default 7)."),
) -> None:
    """Pack versions, doctor's checks, the redacted config, the journal check,
    recent transactions (masked) and recent errors into one tar.gz."""
    from mpos_cli.commands.app import App
    from mpos_cli.support import build

    app = App.of(ctx)
    path, names = build(app.env, output, days=days, notify=app.message)
    app.message(f"{len(names)} files; no card data or secrets. Look inside before you send it: tar -tzf {path}")
    app.env.stdout.write(f"{path}\n")
