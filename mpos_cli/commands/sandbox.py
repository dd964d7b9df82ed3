"""mpos sandbox: the sandbox acquirer (serve, ledger, seed)."""

from __future__ import annotations

import typer

from mpos_cli.commands import command_group, options

sandbox_app, register = command_group("sandbox", "The sandbox acquirer: serve it, read its ledger, seed demo data.")


@sandbox_app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
) -> None:
    """Serve the sandbox acquirer's HTTP API until interrupted."""
    from mpos_cli.commands.app import App
    from mpos_cli.gateway.sandbox import serve as serve_forever

    app = App.of(ctx)
    env = app.env
    app.message(f"SANDBOX acquirer on http://{host}:{port} (state in {env.data_path('sandbox')}); Ctrl-C stops it")
    try:
        serve_forever(host, port, env.data_dir, key=env.environ.get("MPOS_GATEWAY_KEY"))
    except KeyboardInterrupt:
        app.message("Sandbox acquirer stopped.")
        raise typer.Exit(130) from None


@sandbox_app.command("stop")
def stop(ctx: typer.Context) -> None:
    """Stop the background sandbox acquirer of this home (it also stops by itself when idle)."""
    from mpos_cli.commands.app import App
    from mpos_cli.gateway.sandbox import daemon

    app = App.of(ctx)
    stopped = daemon.stop(app.env.data_path())
    app.result("STOPPED  the background sandbox acquirer" if stopped else "NOT RUNNING  nothing to stop")


@sandbox_app.command("ledger")
def ledger(ctx: typer.Context, json_: options.Json = False) -> None:
    """Print the acquirer's own view: every authorisation it holds."""
    from mpos_cli.commands.app import App

    app = App.of(ctx)
    entries = app.pos.gateway.ledger()
    if json_:
        app.print_json(entries)
        return
    from mpos_cli.money import currency, format_money

    if not entries:
        app.message("The sandbox ledger is empty.")
        return
    app.print_table(("Reference", "Type", "Status", "Total", "RC", "Auth"), (
        (entry["reference"], entry["type"], entry["status"], format_money(entry["total_minor"], currency(entry["currency"])),
         entry.get("response_code") or "", entry.get("auth_code") or "")
        for entry in entries
    ))


@sandbox_app.command("seed")
def seed(
    ctx: typer.Context,
    count: int = typer.Option(..., "--count", min=1, max=1_000_000, help="How many approved sales to write."),
    days: int = typer.Option(30, "--days", min=1, max=3650, help="Spread over this many days, ending today."),
) -> None:
    """Write COUNT approved sandbox sales into the journal and the sandbox ledger."""
    from mpos_cli.commands.app import App
    from mpos_cli.errors import UsageError
    from mpos_cli.seed import seed as seed_both

    app = App.of(ctx)
    pos = app.pos
    if not pos.gateway.sandbox:
        raise UsageError("seed writes demo data and works only against the sandbox acquirer")
    written = seed_both(pos, count=count, days=days, notify=app.message)
    app.message(f"Seeded {written} approved sandbox sales over {days} days")
