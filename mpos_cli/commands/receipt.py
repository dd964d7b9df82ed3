"""mpos receipt: show, save or print a receipt for a transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

FORMATS = ("rich", "text", "html", "escpos")


def register(app: typer.Typer) -> None:
    app.command("receipt")(receipt)


def receipt(
    ctx: typer.Context,
    tx_id: str = typer.Argument(..., metavar="TX_ID", help="An id, the start of its last part (any case), or last."),
    copy: str = typer.Option("customer", "--copy", help="customer or merchant."),
    format_: str = typer.Option("rich", "--format", help="rich, text, html or escpos."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write to this file instead of stdout."),
    print_: bool = typer.Option(False, "--print", help="Send ESC/POS bytes to the configured printer (printer.device)."),
) -> None:
    """Render the receipt of a transaction."""
    from mpos_cli.commands.app import App
    from mpos_cli.commands.views import receipt_model
    from mpos_cli.errors import UsageError

    if copy not in ("customer", "merchant"):
        raise UsageError(f"--copy takes customer or merchant, not {copy!r}")
    if format_ not in FORMATS:
        raise UsageError(f"unknown receipt format {format_!r}", hint=f"use one of {', '.join(FORMATS)}")
    if print_ and output is not None:
        raise UsageError("--print and --output exclude each other")
    app = App.of(ctx)
    pos = app.pos
    tx = pos.journal.resolve(tx_id)
    model = receipt_model(app, tx, copy)
    if print_:
        device = pos.env.config["printer.device"]
        if not device:
            raise UsageError("no printer configured", hint="mpos config set printer.device /dev/rfcomm0")
        from mpos_cli.receipts import print_receipt

        print_receipt(model, device, profile=pos.env.config["printer.profile"])
        app.message(f"Printed on {device}")
        return
    from mpos_cli.receipts import render

    if format_ == "rich" and output is None:
        app.console.print(render(model, "rich"))
        return

    profile = pos.env.config["printer.profile"] if format_ == "escpos" else None
    rendered = render(model, "text" if format_ == "rich" else format_, profile=profile)
    data = rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")
    if output is not None:
        from mpos_cli.storage_util import FILE_MODE
        import os

        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        app.message(f"Wrote {output}")
    elif isinstance(rendered, bytes):
        env = app.env
        if hasattr(env.stdout, "buffer"):
            env.stdout.flush()
            env.stdout.buffer.write(rendered)
            env.stdout.buffer.flush()
        else:
            raise UsageError("ESC/POS output is binary", hint="use --output FILE or --print")
    else:
        app.env.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
