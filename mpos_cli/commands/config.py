"""mpos config: show, set and unset configuration (man 5 mpos.toml).

These three work on a config.toml spoilt by hand (every other command
refuses it with exit 8), so that the user can see what is wrong and repair it.
"""

from __future__ import annotations

import typer

from mpos_cli.commands import command_group, options

config_app, register = command_group("config", "Show and change the configuration.")


@config_app.command("show")
def show(ctx: typer.Context, json_: options.Json = False) -> None:
    """Show every setting, its value and where it comes from; flag bad ones (then exit 8)."""
    from mpos_cli.commands.app import App
    from mpos_cli.config import acquirer_summary, inspect, shown_value

    app = App.of(ctx)
    report = inspect(app.env.config_path, app.env.environ)
    rows = [
        {
            "key": s.key,
            "value": shown_value(s.key, s.written if s.problem else s.value),
            "source": s.source,
            "help": s.help,
            "problem": s.problem,
        }
        for s in report.settings
    ]
    acquirer = acquirer_summary(report, secret_present=_secret_present(app.env))
    if json_:
        app.print_json({"path": str(report.path), "settings": rows, "acquirer": acquirer})
    else:
        from rich.table import Table

        table = Table(box=None, pad_edge=False, title=str(report.path), title_justify="left")
        columns = ("Key", "Value", "Source", "Problem") if report.problems else ("Key", "Value", "Source")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            cells = [row["key"], str(row["value"]), row["source"]]
            if report.problems:
                cells.append(f"BAD: {row['problem']}" if row["problem"] else "")
            table.add_row(*cells)
        app.console.print(table)
        app.console.print(_acquirer_line(acquirer), highlight=False)
    error = report.first_error(others="each is flagged in the output")
    if error is not None:
        raise error


@config_app.command("set")
def set_(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="A key from mpos config show, e.g. currency."),
    value: str = typer.Argument(..., help="The new value."),
) -> None:
    """Set one key in config.toml (checked first: a bad value writes nothing; secrets are refused)."""
    from mpos_cli.commands.app import App
    from mpos_cli.config import change

    app = App.of(ctx)
    if key == "terminal.id":  # set once (SPEC §11): refused once payments carry it
        from mpos_cli.hub.identity import refuse_terminal_id_change

        refuse_terminal_id_change(app.env, value.strip())
    _report(app, change(app.env.config_path, key, value))


@config_app.command("unset")
def unset(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="A key set in config.toml, e.g. offline.max_amount."),
) -> None:
    """Remove one key from config.toml: it goes back to its default."""
    from mpos_cli.commands.app import App
    from mpos_cli.config import unset as unset_key

    app = App.of(ctx)
    if key == "terminal.id":  # back to the default is a change too
        from mpos_cli.config import SCHEMA
        from mpos_cli.hub.identity import refuse_terminal_id_change

        refuse_terminal_id_change(app.env, SCHEMA[key].default)
    _report(app, unset_key(app.env.config_path, key), unset=True)


def _secret_present(env) -> bool:
    """Whether the acquirer's secret can be found (MPOS_GATEWAY_KEY or the
    keyring); its value is never read into the output."""
    try:
        return bool(env.gateway_key)
    except Exception:  # an unreadable config is reported by the table; the keyring may be absent
        return bool(env.environ.get("MPOS_GATEWAY_KEY"))


def _acquirer_line(acquirer: dict) -> str:
    if acquirer["name"] == "sandbox":
        return "Acquirer: the embedded sandbox (no credentials needed)"
    parts = [f"{name}: {'present' if present else 'MISSING'}" for name, present in acquirer["credentials"].items()]
    return f"Acquirer: {acquirer['name']} ({'; '.join(parts)})"


def _report(app, done, *, unset: bool = False) -> None:
    from mpos_cli.config import ENV_KEYS, shown_value

    path = app.env.config_path
    if done.written and unset:
        default = "" if done.value is None else f"; its default is {shown_value(done.key, done.value)!r}"
        app.message(f"{done.key} removed from {path}{default}")
    elif done.written:
        app.message(f"{done.key} = {shown_value(done.key, done.value)!r} in {path}")
    for note in done.notes:
        app.message(f"note: {note}")
    for name, key in ENV_KEYS.items():
        if key == done.key and app.env.environ.get(name):
            app.message(f"note: {name} is set and overrides {key} in this environment")
