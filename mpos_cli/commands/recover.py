"""mpos recover: resolve payments whose outcome was never learnt."""

from __future__ import annotations

import typer

from mpos_cli.commands import options


def register(app: typer.Typer) -> None:
    app.command("recover")(recover)


def recover(ctx: typer.Context, json_: options.Json = False) -> None:
    """Look up, reverse or finish every open payment at the acquirer; forward stored ones."""
    from mpos_cli import offline
    from mpos_cli.commands.app import App
    from mpos_cli.errors import GatewayOutcomeUnknown
    from mpos_cli.recovery import Recovery

    app = App.of(ctx)
    pos = app.pos
    resolved = Recovery(pos, app.message).run(brief=False)
    forwarded = offline.forward(pos, app.message) if offline.queued(pos.journal) else []
    still_open = Recovery(pos).pending()
    if json_:
        app.print_json(
            {
                "resolved": [tx.to_public() for tx in resolved],
                "forwarded": [tx.to_public() for tx in forwarded],
                "still_open": [tx.id for tx in still_open],
            }
        )
    else:
        for tx in resolved + forwarded:
            app.console.print(f"{tx.id}  {tx.status}  {tx.message or ''}".rstrip(), markup=False)
        app.result(f"RECOVERED {len(resolved)}  FORWARDED {len(forwarded)}  STILL OPEN {len(still_open)}",
                   ok=not still_open)
    if still_open:
        raise GatewayOutcomeUnknown(f"{len(still_open)} payments are still open", hint="run mpos recover again later")
