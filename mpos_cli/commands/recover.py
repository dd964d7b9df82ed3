"""mpos recover: resolve payments whose outcome was never learnt."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("recover")(recover)


def recover(json_: bool = typer.Option(False, "--json", help="Print what was resolved as JSON.")) -> None:
    """Look up, reverse or finish every open payment at the acquirer; forward stored ones."""
    from mpos_cli import offline
    from mpos_cli.commands import _common
    from mpos_cli.errors import GatewayOutcomeUnknown
    from mpos_cli.recovery import Recovery

    pos = _common.pos()
    resolved = Recovery(pos, _common.message).run(brief=False)
    forwarded = offline.forward(pos, _common.message) if offline.queued(pos.journal) else []
    still_open = Recovery(pos).pending()
    if json_:
        _common.print_json(
            {
                "resolved": [tx.to_public() for tx in resolved],
                "forwarded": [tx.to_public() for tx in forwarded],
                "still_open": [tx.id for tx in still_open],
            }
        )
    else:
        for tx in resolved + forwarded:
            _common.console().print(f"{tx.id}  {tx.status}  {tx.message or ''}".rstrip())
        if not resolved and not forwarded:
            _common.message("Nothing to recover.")
    if still_open:
        raise GatewayOutcomeUnknown(f"{len(still_open)} payments are still open", hint="run mpos recover again later")
