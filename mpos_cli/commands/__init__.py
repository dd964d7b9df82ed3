"""One module per command group; each has ``register(app)``.

Commands are thin: parse, call the core, render. Heavy imports live inside
the command functions."""

from __future__ import annotations

import importlib

import typer

GROUPS = (
    "charge",
    "refund",
    "journal",
    "receipt",
    "settle",
    "report",
    "export",
    "reader",
    "recover",
    "offline",
    "sandbox",
    "config",
    "sync",
    "items",
    "till",
    "bank",
    "doctor",
)


def command_group(name: str, help_text: str):
    """A command group (``mpos NAME SUBCOMMAND``): its Typer app, and the
    ``register`` function ``register_all`` calls."""
    group = typer.Typer(help=help_text, no_args_is_help=True)

    def register(app: typer.Typer) -> None:
        app.add_typer(group, name=name)

    return group, register


def register_all(app: typer.Typer) -> None:
    _register_groups(app)
    _flag_help_everywhere(app)


def register_group(app: typer.Typer, name: str) -> None:
    """Only the group ``name`` (one of ``GROUPS``): what a command line that
    names it needs (``mpos_cli.cli.build_app``)."""
    importlib.import_module(f"mpos_cli.commands.{name}").register(app)
    _flag_help_everywhere(app)


def _register_groups(app: typer.Typer) -> None:
    for name in GROUPS:
        importlib.import_module(f"mpos_cli.commands.{name}").register(app)


def _flag_help_everywhere(app: typer.Typer) -> None:
    """Every command and group of ``app`` shows flags without a value
    placeholder (``options.FlagHelpCommand``), ``--help`` included."""
    from typer.core import TyperCommand

    from mpos_cli.commands.options import FlagHelpCommand, FlagHelpGroup

    app.info.cls = FlagHelpGroup
    for command in app.registered_commands:
        if command.cls is None or command.cls is TyperCommand:
            command.cls = FlagHelpCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _flag_help_everywhere(group.typer_instance)
