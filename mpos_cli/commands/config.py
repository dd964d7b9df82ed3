"""mpos config: show and set configuration (man 5 mpos.toml)."""

from __future__ import annotations

import typer

from mpos_cli.commands import options

config_app = typer.Typer(help="Show and change the configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("show")
def show(ctx: typer.Context, json_: options.Json = False) -> None:
    """Show every setting, its value and where it comes from."""
    from mpos_cli.commands.app import App
    from mpos_cli.config import ENV_KEYS, SCHEMA

    app = App.of(ctx)
    env = app.env
    config = env.config
    env_for = {key: name for name, key in ENV_KEYS.items() if env.environ.get(name)}
    rows = []
    for key in SCHEMA:
        source = env_for.get(key) or ("config.toml" if key in config.file_values else "default")
        rows.append({"key": key, "value": config[key], "source": source, "help": SCHEMA[key].help})
    if json_:
        app.print_json({"path": str(config.path), "settings": rows})
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, title=str(config.path), title_justify="left")
    for column in ("Key", "Value", "Source"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["key"], str(row["value"]), row["source"])
    app.console.print(table)


@config_app.command("set")
def set_(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="A key from mpos config show, e.g. currency."),
    value: str = typer.Argument(..., help="The new value."),
) -> None:
    """Set one key in config.toml (validated first; secrets are refused)."""
    from mpos_cli.commands.app import App
    from mpos_cli.config import set_value

    app = App.of(ctx)
    env = app.env
    stored = set_value(env.config_path, key, value)
    app.message(f"{key} = {stored!r} in {env.config_path}")
