"""mpos offline: the store-and-forward queue."""

from __future__ import annotations

import typer

from mpos_cli.commands import command_group, options

offline_app, register = command_group("offline", "Payments stored while the acquirer was unreachable.")


@offline_app.command("status")
def status(ctx: typer.Context, json_: options.Json = False) -> None:
    """Show the stored payments waiting to be forwarded and the policy limits."""
    from mpos_cli import offline
    from mpos_cli.commands.app import App

    app = App.of(ctx)
    pos = app.pos
    queue = offline.summary(pos.journal)
    config = pos.env.config
    policy = {
        "mode": config["offline.mode"],
        "max_amount": str(config["offline.max_amount"]),
        "max_total": str(config["offline.max_total"]),
        "max_count": config["offline.max_count"],
        "max_age_hours": config["offline.max_age_hours"],
    }
    if json_:
        app.print_json(
            {
                "count": queue.count,
                "totals_minor": queue.totals_minor,
                "oldest_created_at": queue.oldest.created_at.isoformat() if queue.oldest else None,
                "policy": policy,
                "transactions": [tx.to_public() for tx in queue.transactions],
            }
        )
        return
    from mpos_cli.money import currency, format_money

    if not queue.count:
        app.console.print("No payments stored offline.")
    for tx in queue.transactions:
        app.console.print(f"{tx.id}  {format_money(tx.total_minor, currency(tx.currency))}  stored {tx.created_at:%Y-%m-%d %H:%M}")
    app.message(
        f"policy: {policy['mode']}, at most {policy['max_count']} payments, {policy['max_amount']} each, "
        f"{policy['max_total']} in all, {policy['max_age_hours']} h old"
    )


@offline_app.command("forward")
def forward(ctx: typer.Context, json_: options.Json = False) -> None:
    """Forward every stored payment to the acquirer now."""
    from mpos_cli import offline
    from mpos_cli.commands.app import App
    from mpos_cli.errors import PaymentDeclined

    app = App.of(ctx)
    done = offline.forward(app.pos, app.message)
    if json_:
        app.print_json([tx.to_public() for tx in done])
    else:
        for tx in done:
            app.console.print(f"{tx.id}  {tx.status}  {tx.message or ''}", markup=False)
        declined_now = sum(1 for tx in done if tx.status == "declined")
        app.result(f"FORWARDED {len(done)}  APPROVED {len(done) - declined_now}  DECLINED {declined_now}",
                   ok=not declined_now)
    declined = [tx for tx in done if tx.status == "declined"]
    if declined:
        raise PaymentDeclined(f"{len(declined)} stored payments were declined when forwarded: the sales were not paid")
