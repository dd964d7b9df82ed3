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
)


def register_all(app: typer.Typer) -> None:
    for name in GROUPS:
        try:
            module = importlib.import_module(f"mpos_cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mpos_cli.commands.{name}":
                continue  # a group not built yet
            raise
        module.register(app)
